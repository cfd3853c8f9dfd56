import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { OutcomeWriter } from '../server/dispatch/outcome-writer.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { RedisStore } from '../server/store/redis-store.js';
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
    const writer = new OutcomeWriter(store, { count: 100, bytes: 1e9 }, () => {});
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
    const errors: unknown[] = [];
    const writer = new OutcomeWriter(store, { count: 100, bytes: 1e9 }, (e) => errors.push(e));
    writer.add([done(id)]);
    await writer.flush();
    expect(writer.buffered).to.equal(1);
    expect(errors).to.have.length(1);
    down = false;
    for (let i = 0; i < 50 && writer.buffered > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await store.getTask(id))?.status).to.equal('COMPLETED');
    writer.stop();
  });

  it('drops the oldest past its bound and counts them', () => {
    const store = new MemoryStore();
    store.complete = () => new Promise(() => {});
    const writer = new OutcomeWriter(store, { count: 2, bytes: 1e9 }, () => {});
    writer.add([done('a')]);
    writer.add([done('b'), done('c'), done('d')]);
    expect(writer.buffered).to.equal(2);
    expect(writer.dropped).to.equal(1);
  });

  it('fails only the outcome Redis rejects (a lone surrogate) and writes every other one', async () => {
    const store = new RedisStore({ url: testRedis().url, prefix: uniquePrefix(), instanceId: 'w' });
    await store.connect();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) ids.push(await runningTask(store));
      const errors: unknown[] = [];
      const writer = new OutcomeWriter(store, { count: 100, bytes: 1e9 }, (e) => errors.push(e));
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
      expect(errors.length).to.be.greaterThan(0);
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
    const writer = new OutcomeWriter(store, { count: 100, bytes: 1e9 }, () => {});
    const big = 'x'.repeat(7 * 1024 * 1024);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await runningTask(store));
    writer.add(ids.map((id) => ({ ...done(id), value: JSON.stringify(big) })));
    await writer.flush();
    expect(Math.max(...sizes)).to.be.at.most(16 * 1024 * 1024);
    for (const id of ids) expect((await store.getTask(id))?.status).to.equal('COMPLETED');
  });

  it('bounds the buffer by bytes as well as by count', () => {
    const store = new MemoryStore();
    store.complete = () => new Promise(() => {});
    const writer = new OutcomeWriter(store, { count: 100, bytes: 3000 }, () => {});
    writer.add([done('in-flight')]);
    writer.add([1, 2, 3].map((i) => ({ ...done(`t${i}`), value: 'y'.repeat(1000) })));
    expect(writer.buffered).to.equal(2);
    expect(writer.dropped).to.equal(1);
  });
});
