import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import { OutcomeWriter, type OutcomeWriterLimits } from '../server/dispatch/outcome-writer.js';
import { GridMetrics } from '../server/metrics.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { TaskStore } from '../server/store/task-store.js';
import { UnavailableError } from '../shared/errors.js';
import type { TaskOutcome } from '../shared/types.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';

async function runningTask(store: MemoryStore | RedisStore): Promise<string> {
  const id = randomUUID();
  await store.enqueue([
    { id, function_id: 'f', args: '[]', timeout_ms: 1000, created_at: Date.now() },
  ]);
  await store.claim(1, 'me/w', 60_000);
  return id;
}

interface LogLine {
  level: number;
  msg: string;
  dropped?: number;
}
const WARN = 40;

/** A writer whose metrics and log lines the test reads. */
function writerFor(store: TaskStore, limits: OutcomeWriterLimits = { count: 100, bytes: 1e9 }) {
  const metrics = new GridMetrics(store, () => {
    throw new Error('no dispatcher in this test');
  });
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const writer = new OutcomeWriter(store, { limits, metrics, log });
  const counted = async (name: string): Promise<number> =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
  return {
    writer,
    lines,
    /** Warnings whose message starts with `start`. */
    warned: (start: string) => lines.filter((l) => l.level === WARN && l.msg.startsWith(start)),
    dropped: () => counted('taskgrid_outcomes_dropped_total'),
  };
}

const done = (id: string): TaskOutcome => ({
  id,
  attempt: 1,
  status: 'COMPLETED',
  value: '1',
  run_ms: 1,
});

describe('OutcomeWriter', () => {
  it('keeps writing after an empty batch (a write that ends at once must not wedge it)', async () => {
    const store = new MemoryStore();
    const { writer } = writerFor(store);
    writer.add([]);
    const id = await runningTask(store);
    writer.add([done(id)]);
    await writer.flush();
    expect((await store.getTask(id))?.status).to.equal('COMPLETED');
  });

  it('holds outcomes while the store is unreachable and writes them when it returns', async () => {
    const store = new MemoryStore();
    const id = await runningTask(store);
    const real = store.complete.bind(store);
    let down = true;
    store.complete = async (outcomes) => {
      if (down) throw new UnavailableError('down');
      return real(outcomes);
    };
    const { writer, warned } = writerFor(store);
    writer.add([done(id)]);
    await writer.flush();
    expect(writer.buffered).to.equal(1);
    expect(warned('writing results failed')).to.have.length(1);
    down = false;
    for (let i = 0; i < 50 && writer.buffered > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await store.getTask(id))?.status).to.equal('COMPLETED');
    writer.stop();
  });

  it('drops the oldest past its bound and counts them', async () => {
    const store = new MemoryStore();
    store.complete = () => new Promise(() => {});
    const { writer, dropped } = writerFor(store, { count: 2, bytes: 1e9 });
    writer.add([done('a')]);
    writer.add([done('b'), done('c'), done('d')]);
    expect(writer.buffered).to.equal(2);
    expect(await dropped()).to.equal(1);
  });

  it('warns once when a drop episode starts and says how many it dropped when it ends', async () => {
    const store = new MemoryStore();
    const real = store.complete.bind(store);
    let open: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      open = resolve;
    });
    store.complete = async (outcomes) => {
      await held;
      return real(outcomes);
    };
    const { writer, lines, warned, dropped } = writerFor(store, { count: 2, bytes: 1e9 });
    writer.add([done('a')]);
    writer.add([done('b'), done('c'), done('d')]);
    writer.add([done('e'), done('f')]);
    expect(await dropped()).to.equal(3);
    expect(warned('the result buffer is full')).to.have.length(1);
    open();
    await writer.flush();
    expect(writer.buffered).to.equal(0);
    const end = lines.filter((l) => l.msg.startsWith('the result buffer is written out'));
    expect(end.map((l) => l.dropped)).to.deep.equal([3]);
    // A new episode warns again.
    store.complete = () => new Promise(() => {});
    writer.add([done('g')]);
    writer.add([done('h'), done('i'), done('j')]);
    expect(warned('the result buffer is full')).to.have.length(2);
    expect(await dropped()).to.equal(4);
  });

  it('fails only the outcome Redis rejects (a lone surrogate) and writes every other one', async () => {
    const store = new RedisStore({ url: testRedis().url, prefix: uniquePrefix(), instanceId: 'w' });
    await store.connect();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) ids.push(await runningTask(store));
      const { writer, warned } = writerFor(store);
      const bad = ids[4] as string;
      writer.add(ids.map((id) => (id === bad ? { ...done(id), value: '"\ud800"' } : done(id))));
      await writer.flush();
      // A later batch is not held up by the bad one.
      const later = await runningTask(store);
      writer.add([done(later)]);
      await writer.flush();
      for (const id of [...ids, later]) {
        const task = await store.getTask(id);
        if (id === bad) {
          expect(task?.status).to.equal('FAILED');
          expect(JSON.parse(task?.result as string)).to.include({ name: 'BadResultError' });
        } else {
          expect(task?.status, id).to.equal('COMPLETED');
        }
      }
      expect(warned('the store refused a batch')).to.have.length.greaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('cuts batches by bytes, so many large results never make one oversized write', async () => {
    const store = new MemoryStore();
    const sizes: number[] = [];
    const real = store.complete.bind(store);
    store.complete = async (outcomes) => {
      sizes.push(outcomes.reduce((n, o) => n + o.value.length, 0));
      return real(outcomes);
    };
    const { writer } = writerFor(store);
    const big = 'x'.repeat(7 * 1024 * 1024);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await runningTask(store));
    writer.add(ids.map((id) => ({ ...done(id), value: JSON.stringify(big) })));
    await writer.flush();
    expect(Math.max(...sizes)).to.be.at.most(16 * 1024 * 1024);
    for (const id of ids) expect((await store.getTask(id))?.status).to.equal('COMPLETED');
  });

  it('bounds the buffer by bytes as well as by count', async () => {
    const store = new MemoryStore();
    store.complete = () => new Promise(() => {});
    const { writer, dropped } = writerFor(store, { count: 100, bytes: 3000 });
    writer.add([done('in-flight')]);
    writer.add([1, 2, 3].map((i) => ({ ...done(`t${i}`), value: 'y'.repeat(1000) })));
    expect(writer.buffered).to.equal(2);
    expect(await dropped()).to.equal(1);
  });
});
