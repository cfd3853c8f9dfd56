/**
 * The lifecycle part of the TaskStore contract, on both stores: priorities
 * (exact, FIFO within one), delays, deadlines, retry policies, retrying a
 * finished task, deleting a function, listing tasks; then one scripted run
 * on both stores compared answer by answer.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { MemoryStore } from '../server/store/memory-store.js';
import type { NewTask, StoreEvent, TaskStore } from '../server/store/task-store.js';
import type { TaskOutcome } from '../shared/types.js';
import { idPool, openRedisStore, openShardedStore } from './helpers/every-store.js';
import { expectSameTranscripts, normalise } from './helpers/store-transcript.js';

/** Where test task ids come from: the store under test, once one is open. */
let nextId: () => string = randomUUID;

function task(extra: Partial<NewTask> = {}, fn = 'f1'): NewTask {
  return {
    id: nextId(),
    function_id: fn,
    args: '[1]',
    timeout_ms: 1000,
    created_at: Date.now(),
    ...extra,
  };
}

const failure = (message: string) => JSON.stringify({ name: 'BoomError', message, stack: 's' });
const failed = (id: string, attempt: number, message = 'boom'): TaskOutcome => ({
  id,
  attempt,
  status: 'FAILED',
  value: failure(message),
  run_ms: 1,
});
const completed = (id: string, attempt: number): TaskOutcome => ({
  id,
  attempt,
  status: 'COMPLETED',
  value: '"ok"',
  run_ms: 1,
});

const stores: [string, (resultTtlSeconds?: number) => Promise<TaskStore>][] = [
  ['MemoryStore', async (resultTtlSeconds) => new MemoryStore({ resultTtlSeconds })],
  ['RedisStore', (ttl) => openRedisStore(ttl === undefined ? {} : { resultTtlSeconds: ttl })],
  [
    'ShardedStore (cluster)',
    (ttl) => openShardedStore(ttl === undefined ? {} : { resultTtlSeconds: ttl }),
  ],
];

for (const [name, open] of stores) {
  describe(`TaskStore lifecycle: ${name}`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await open();
      nextId = idPool(store);
    });
    afterEach(async () => {
      await store.close();
    });

    it('claims higher priorities first and FIFO within one, across batches', async () => {
      const priorities = [0, 5, -3, 5, 0, 100, -100, -3, 1];
      const tasks = priorities.map((priority) => task({ priority }));
      // Two batches: order within a priority must hold across them.
      await store.enqueue(tasks.slice(0, 4));
      await store.enqueue(tasks.slice(4));
      expect(await store.queueDepth()).to.equal(tasks.length);
      const order: string[] = [];
      for (;;) {
        const { tasks: got } = await store.claim(2, 'me/w', 60_000);
        if (got.length === 0) break;
        order.push(...got.map((t) => t.id));
      }
      const expected = tasks
        .map((t, i) => ({ id: t.id, p: priorities[i] as number, i }))
        .sort((a, b) => b.p - a.p || a.i - b.i)
        .map((t) => t.id);
      expect(order).to.deep.equal(expected);
      const record = await store.getTask(tasks[5]?.id as string);
      expect(record?.priority).to.equal(100);
    });

    it('returns a requeued task with a priority to its place, ahead of newer ones', async () => {
      const a = task({ priority: 7 });
      const b = task({ priority: 7 });
      await store.enqueue([a, b]);
      const first = await store.claim(1, 'me/w', 60_000);
      expect(first.tasks[0]?.id).to.equal(a.id);
      await store.requeue([{ id: a.id, attempt: 1 }], 5);
      const again = await store.claim(2, 'me/w', 60_000);
      expect(again.tasks.map((t) => t.id)).to.deep.equal([a.id, b.id]);
    });

    it('keeps a delayed task WAITING until its time, then queues it', async () => {
      const now = Date.now();
      const later = task({ run_at: now + 60_000 });
      const soon = task({ run_at: now + 10 });
      await store.enqueue([later, soon]);
      expect((await store.getTask(later.id))?.status).to.equal('WAITING');
      expect((await store.getTask(later.id))?.run_at).to.equal(now + 60_000);
      expect((await store.claim(5, 'me/w', 60_000)).tasks).to.deep.equal([]);
      const early = await store.promoteDue(now);
      expect(early).to.deep.include({ promoted: 0, failed: [], more: false });
      expect(early.nextDue).to.equal(now + 10);
      const due = await store.promoteDue(now + 10);
      expect(due.promoted).to.equal(1);
      expect(due.nextDue).to.equal(now + 60_000);
      expect((await store.getTask(soon.id))?.status).to.equal('QUEUED');
      expect((await store.claim(5, 'me/w', 60_000)).tasks.map((t) => t.id)).to.deep.equal([
        soon.id,
      ]);
    });

    it('fails a task whose deadline passed before it started, and never hands it out', async () => {
      const now = Date.now();
      const waiting = task({ deadline_at: now + 50 });
      const delayedPastDeadline = task({ run_at: now + 500, deadline_at: now + 100 });
      const kept = task({ deadline_at: now + 3_600_000 });
      await store.enqueue([waiting, delayedPastDeadline, kept]);
      const events: StoreEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      const swept = await store.promoteDue(now + 200);
      off();
      expect(swept.failed).to.have.members([waiting.id, delayedPastDeadline.id]);
      for (const id of [waiting.id, delayedPastDeadline.id]) {
        const record = await store.getTask(id);
        expect(record?.status).to.equal('FAILED');
        expect(JSON.parse(record?.result ?? '{}')).to.include({ name: 'DeadlineExceededError' });
        expect(record?.attempts).to.equal(0);
      }
      expect(events.some((e) => e.type === 'finished' && e.ids.includes(waiting.id))).to.equal(
        true,
      );
      // A later promote does not bring the delayed one back.
      await store.promoteDue(now + 1000);
      const { tasks } = await store.claim(5, 'me/w', 60_000);
      expect(tasks.map((t) => t.id)).to.deep.equal([kept.id]);
    });

    it('fails at claim a task whose deadline passed before any sweep ran', async () => {
      const late = task({ deadline_at: Date.now() - 1 });
      const fine = task();
      await store.enqueue([late, fine]);
      const { tasks } = await store.claim(5, 'me/w', 60_000);
      expect(tasks.map((t) => t.id)).to.deep.equal([fine.id]);
      expect((await store.getTask(late.id))?.status).to.equal('FAILED');
    });

    it('retries a failing task by its policy, WAITING between runs, then fails it with every error', async () => {
      const t = task({ retry: { max_attempts: 3, backoff: 'exponential', delay_ms: 100 } });
      await store.enqueue([t]);
      let attempt = 0;
      /** Each backoff's bounds, from the clock read before and after the complete call. */
      let waited: [number, number][] = [];
      for (let run = 1; run <= 3; run++) {
        const { tasks } = await store.claim(1, 'me/w', 60_000);
        expect(tasks.map((x) => x.id)).to.deep.equal([t.id]);
        attempt = tasks[0]?.attempt as number;
        const before = Date.now();
        const applied = await store.complete([failed(t.id, attempt, `run ${run}`)]);
        const after = Date.now();
        const record = await store.getTask(t.id);
        if (run < 3) {
          expect(applied, 'a retried run is not finished').to.deep.equal([]);
          expect(record?.status).to.equal('WAITING');
          const runAt = record?.run_at as number;
          waited = [...waited, [runAt - after, runAt - before]];
          expect((await store.claim(1, 'me/w', 60_000)).tasks).to.deep.equal([]);
          expect((await store.promoteDue(runAt - 1)).promoted).to.equal(0);
          expect((await store.promoteDue(runAt)).promoted).to.equal(1);
        } else {
          expect(applied).to.deep.equal([t.id]);
          expect(record?.status).to.equal('FAILED');
          expect(record?.errors.map((e) => [e.attempt, e.name, e.message])).to.deep.equal([
            [1, 'BoomError', 'run 1'],
            [2, 'BoomError', 'run 2'],
          ]);
          expect(JSON.parse(record?.result ?? '{}').message).to.equal('run 3');
        }
      }
      // Exponential: 100 ms, then 200 ms after the store's clock at the call.
      const [first = [0, 0], second = [0, 0]] = waited;
      expect(100).to.be.within(first[0], first[1]);
      expect(200).to.be.within(second[0], second[1]);
      const dead = await store.listTasks({ status: 'FAILED', limit: 10 });
      expect(dead.tasks.map((x) => x.id)).to.deep.equal([t.id]);
    });

    it('caps an exponential backoff at max_delay_ms, and does not retry a success', async () => {
      const t = task({
        retry: { max_attempts: 5, backoff: 'exponential', delay_ms: 1000, max_delay_ms: 1500 },
      });
      await store.enqueue([t]);
      for (let run = 1; run <= 2; run++) {
        const { tasks } = await store.claim(1, 'me/w', 60_000);
        const before = Date.now();
        await store.complete([failed(t.id, tasks[0]?.attempt as number)]);
        const after = Date.now();
        const runAt = (await store.getTask(t.id))?.run_at as number;
        expect(run === 1 ? 1000 : 1500).to.be.within(runAt - after, runAt - before);
        await store.promoteDue(runAt);
      }
      const { tasks } = await store.claim(1, 'me/w', 60_000);
      expect(await store.complete([completed(t.id, tasks[0]?.attempt as number)])).to.deep.equal([
        t.id,
      ]);
      expect((await store.getTask(t.id))?.status).to.equal('COMPLETED');
    });

    it('retries a FAILED or CANCELLED task under the same id, and refuses others', async () => {
      const t = task();
      const c = task();
      const done = task();
      await store.enqueue([t, c, done]);
      const { tasks } = await store.claim(3, 'me/w', 60_000);
      await store.complete([failed(t.id, 1, 'first'), completed(done.id, 3)]);
      await store.cancel(c.id);
      expect(await store.retryTask(t.id)).to.deep.equal({ previous: 'FAILED', changed: true });
      expect(await store.retryTask(c.id)).to.deep.equal({ previous: 'CANCELLED', changed: true });
      expect(await store.retryTask(done.id)).to.deep.include({ changed: false });
      expect(await store.retryTask(t.id)).to.deep.equal({ previous: 'QUEUED', changed: false });
      expect(await store.retryTask(randomUUID())).to.equal(undefined);
      expect(tasks).to.have.length(3);
      const record = await store.getTask(t.id);
      expect(record?.status).to.equal('QUEUED');
      expect(record?.result).to.equal(undefined);
      expect(record?.errors.map((e) => e.message)).to.deep.equal(['first']);
      expect((await store.listTasks({ status: 'FAILED', limit: 10 })).tasks).to.deep.equal([]);
      const again = await store.claim(5, 'me/w', 60_000);
      expect(again.tasks.map((x) => [x.id, x.attempt])).to.have.deep.members([
        [t.id, 2],
        [c.id, 2],
      ]);
    });

    it('cancels a WAITING task for good', async () => {
      const now = Date.now();
      const t = task({ run_at: now + 10 });
      await store.enqueue([t]);
      expect(await store.cancel(t.id)).to.deep.include({ previous: 'WAITING', changed: true });
      expect((await store.promoteDue(now + 100)).promoted).to.equal(0);
      expect((await store.getTask(t.id))?.status).to.equal('CANCELLED');
    });

    it('deletes a function: its QUEUED and WAITING tasks are cancelled, RUNNING ones and others left', async () => {
      const f = randomUUID();
      const other = randomUUID();
      await store.registerFunction({ id: f, name: 'f', source: '() => 1', created_at: 1 });
      await store.registerFunction({
        id: other,
        name: 'g',
        source: '() => 2',
        created_at: 2,
        retry: { max_attempts: 2, backoff: 'fixed', delay_ms: 5 },
      });
      expect((await store.listFunctions()).map((fn) => fn.id)).to.deep.equal([f, other]);
      expect((await store.getFunction(other))?.retry).to.deep.equal({
        max_attempts: 2,
        backoff: 'fixed',
        delay_ms: 5,
      });
      const running = task({}, f);
      await store.enqueue([running]);
      await store.claim(1, 'me/w', 60_000);
      const queued = task({}, f);
      const high = task({ priority: 3 }, f);
      const waiting = task({ run_at: Date.now() + 60_000 }, f);
      const theirs = task({}, other);
      await store.enqueue([queued, high, waiting, theirs]);
      const result = await store.deleteFunction(f);
      expect(result?.cancelled).to.have.members([queued.id, high.id, waiting.id]);
      expect(await store.deleteFunction(f)).to.equal(undefined);
      expect((await store.getTask(running.id))?.status).to.equal('RUNNING');
      expect((await store.getTask(waiting.id))?.status).to.equal('CANCELLED');
      const { tasks } = await store.claim(10, 'me/w', 60_000);
      expect(tasks.map((t) => t.id)).to.deep.equal([theirs.id]);
      expect((await store.listFunctions()).map((fn) => fn.id)).to.deep.equal([other]);
    });

    it('forgets finished tasks after the result TTL, and trims them from the listing indexes', async () => {
      const short = await open(1);
      try {
        const tasks = [task(), task(), task()];
        await short.enqueue(tasks);
        await short.claim(3, 'me/w', 60_000);
        await short.complete([
          completed(tasks[0]?.id as string, 1),
          failed(tasks[1]?.id as string, 1),
        ]);
        expect((await short.listTasks({ limit: 10 })).tasks).to.have.length(3);
        await new Promise((resolve) => setTimeout(resolve, 1200));
        expect(await short.getTask(tasks[0]?.id as string)).to.equal(undefined);
        expect(await short.getTask(tasks[1]?.id as string)).to.equal(undefined);
        const trimmed = await short.trimIndexes();
        // Two from the index and one from the dead-letter set.
        expect(trimmed.removed).to.equal(3);
        const left = await short.listTasks({ limit: 10 });
        expect(left.tasks.map((t) => t.id)).to.deep.equal([tasks[2]?.id]);
        expect((await short.listTasks({ status: 'FAILED', limit: 10 })).tasks).to.deep.equal([]);
      } finally {
        await short.close();
      }
    });

    it('lists tasks newest first, by page, by status and by function', async () => {
      const f = randomUUID();
      const g = randomUUID();
      const tasks = Array.from({ length: 7 }, (_, i) => task({}, i % 2 === 0 ? f : g));
      await store.enqueue(tasks.slice(0, 3));
      await store.enqueue(tasks.slice(3));
      const newestFirst = [...tasks].reverse().map((t) => t.id);
      const first = await store.listTasks({ limit: 3 });
      expect(first.tasks.map((t) => t.id)).to.deep.equal(newestFirst.slice(0, 3));
      expect(first.next_cursor).to.be.a('string');
      const second = await store.listTasks({ limit: 3, cursor: first.next_cursor });
      expect(second.tasks.map((t) => t.id)).to.deep.equal(newestFirst.slice(3, 6));
      const third = await store.listTasks({ limit: 3, cursor: second.next_cursor });
      expect(third.tasks.map((t) => t.id)).to.deep.equal(newestFirst.slice(6));
      expect(third.next_cursor).to.equal(undefined);
      const ofF = await store.listTasks({ limit: 100, function_id: f });
      expect(ofF.tasks.map((t) => t.id)).to.deep.equal(
        newestFirst.filter((id) => tasks.find((t) => t.id === id)?.function_id === f),
      );
      await store.claim(2, 'me/w', 60_000);
      const running = await store.listTasks({ limit: 100, status: 'RUNNING' });
      expect(running.tasks.map((t) => t.id)).to.deep.equal([tasks[1]?.id, tasks[0]?.id]);
    });
  });
}

/** A retry's run_at is the store's clock plus the backoff (checked above): stamped here. */
function stampBackoff(value: unknown, retried: string): unknown {
  if (Array.isArray(value)) return value.map((v) => stampBackoff(v, retried));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = stampBackoff(v, retried);
  if (out.id === retried && out.run_at !== undefined) out.run_at = '<backoff>';
  return out;
}

/** An hour ahead, the same for both stores' runs: times they wait for, fixed. */
const base = Date.now() + 3_600_000;

/** One scripted run of the lifecycle calls with fixed ids and times: every answer and record. */
async function transcript(store: TaskStore): Promise<[string, unknown][]> {
  const since = Date.now();
  const ids = Array.from({ length: 8 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
  const id = (i: number) => ids[i] as string;
  const t = (i: number, extra: Partial<NewTask> = {}): NewTask => ({
    id: id(i),
    function_id: i < 6 ? 'f1' : 'f2',
    args: `[${i}]`,
    timeout_ms: 1000,
    created_at: 1_700_000_000_000 + i,
    ...extra,
  });
  const out: [string, unknown][] = [];
  const note = async (label: string, answer: Promise<unknown>) => {
    // The promote calls below stamp times up to `base + 10 s`, an hour ahead.
    out.push([label, normalise(stampBackoff(await answer, id(6)), since, 3_700_000)]);
  };
  const records = () => note('records', store.getTasks(ids));
  await store.registerFunction({ id: 'f1', name: 'a', source: '() => 1', created_at: 1 });
  await store.registerFunction({
    id: 'f2',
    name: 'b',
    source: '() => 2',
    created_at: 2,
    retry: { max_attempts: 2, backoff: 'fixed', delay_ms: 1000, max_delay_ms: 5000 },
  });
  await note('functions', store.listFunctions());
  await note(
    'enqueue',
    store.enqueue([
      t(0),
      t(1, { priority: 10 }),
      t(2, { priority: -10 }),
      t(3, { run_at: base }),
      t(4, { deadline_at: base + 10 }),
      t(5, { run_at: base + 100, deadline_at: base + 50 }),
      t(6, {
        priority: 1,
        retry: { max_attempts: 2, backoff: 'exponential', delay_ms: 1000 },
      }),
      t(7, { idempotency_key: 'k' }),
    ]),
  );
  await records();
  await note('claim 3', store.claim(3, 'me/w', 60_000));
  await note('fail t6', store.complete([failed(id(6), 1)]));
  await note('fail t0', store.complete([failed(id(0), 1)]));
  await note('promote at base', store.promoteDue(base));
  await records();
  await note('promote later', store.promoteDue(base + 10_000));
  await note('depth', store.queueDepth());
  await note('claim all', store.claim(10, 'me/w', 60_000));
  await records();
  await note('retry t0', store.retryTask(id(0)));
  await note('retry t1', store.retryTask(id(1)));
  await note('cancel t0', store.cancel(id(0)));
  await note('page 1', store.listTasks({ limit: 3 }));
  await note('failed', store.listTasks({ status: 'FAILED', limit: 10 }));
  await note('of f2', store.listTasks({ function_id: 'f2', limit: 10 }));
  await note('delete f1', store.deleteFunction('f1'));
  await records();
  return out;
}

describe('TaskStore lifecycle: both stores answer the same', () => {
  it('gives deep-equal answers and records for the same lifecycle calls', async () => {
    await expectSameTranscripts(transcript);
  });
});
