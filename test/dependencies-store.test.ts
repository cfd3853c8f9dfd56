/**
 * Results as arguments, the TaskStore part, on both stores: a task whose
 * argument array holds `{"$task": id}` waits (WAITING) until that task
 * COMPLETED, then is queued with the result text in place of the reference;
 * a dependency that fails or is cancelled fails it (DependencyFailedError),
 * down a chain; and one scripted run compared record by record across the
 * stores.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { claimFilter, laneId } from '../server/store/lanes.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { NewTask, StoreEvent, TaskRecord, TaskStore } from '../server/store/task-store.js';
import { findReferences, referencedIds } from '../server/task-references.js';
import type { TaskOutcome } from '../shared/types.js';
import { idPool, openShardedStore } from './helpers/every-store.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { normalise } from './helpers/store-transcript.js';

const ref = (id: string) => ({ $task: id });

/** A new task; references among `args` are found as the server finds them at submit. */
/** Where test task ids come from: the store under test, once one is open. */
let nextId: () => string = randomUUID;

function task(args: unknown[] = [1], extra: Partial<NewTask> = {}, fn = 'f1'): NewTask {
  const text = JSON.stringify(args);
  const refs = findReferences(text, args);
  return {
    id: nextId(),
    function_id: fn,
    args: text,
    timeout_ms: 1000,
    created_at: Date.now(),
    ...(refs ? { depends_on: referencedIds(refs), refs } : {}),
    ...extra,
  };
}

const done = (id: string, attempt: number, value: string): TaskOutcome => ({
  id,
  attempt,
  status: 'COMPLETED',
  value,
  run_ms: 1,
});
const boom = (id: string, attempt: number): TaskOutcome => ({
  id,
  attempt,
  status: 'FAILED',
  value: JSON.stringify({ name: 'BoomError', message: 'boom', stack: 's' }),
  run_ms: 1,
});

type Open = (resultTtlSeconds?: number) => Promise<TaskStore>;

/** The functions the tests' tasks name: a task whose function is gone is cancelled, not released. */
async function withFunctions(store: TaskStore): Promise<TaskStore> {
  for (const id of ['f1', 'f2', 'f3']) {
    await store.registerFunction({ id, name: id, source: '(x) => x', created_at: 1 });
  }
  return store;
}

function openRedis(prefix = uniquePrefix()): Open {
  return async (resultTtlSeconds) => {
    const store = new RedisStore({
      url: testRedis().url,
      prefix,
      instanceId: randomUUID(),
      ...(resultTtlSeconds === undefined ? {} : { resultTtlSeconds }),
    });
    await store.connect();
    return withFunctions(store);
  };
}

const stores: [string, Open][] = [
  ['MemoryStore', (resultTtlSeconds) => withFunctions(new MemoryStore({ resultTtlSeconds }))],
  ['RedisStore', (ttl) => openRedis()(ttl)],
  [
    'ShardedStore (cluster)',
    async (ttl) =>
      withFunctions(await openShardedStore(ttl === undefined ? {} : { resultTtlSeconds: ttl })),
  ],
];

/** Claims everything runnable now; the assignments by id. */
async function claimAll(store: TaskStore): Promise<Map<string, { args: string; attempt: number }>> {
  const out = new Map<string, { args: string; attempt: number }>();
  for (;;) {
    const { tasks } = await store.claim(1000, 'me/w', 60_000);
    if (tasks.length === 0) return out;
    for (const t of tasks) out.set(t.id, { args: t.args, attempt: t.attempt });
  }
}

async function record(store: TaskStore, id: string): Promise<TaskRecord> {
  const found = await store.getTask(id);
  if (!found) throw new Error(`no task ${id}`);
  return found;
}

function errorOf(r: TaskRecord): { name: string; message: string } {
  const data: unknown = JSON.parse(r.result ?? 'null');
  const { name, message } = data as { name: string; message: string };
  return { name, message };
}

/** Resolves with the first event that passes `test` (Redis: events of peers come by pub/sub). */
function nextEvent(store: TaskStore, test: (e: StoreEvent) => boolean): Promise<StoreEvent> {
  return new Promise((resolve) => {
    const off = store.subscribe((e) => {
      if (!test(e)) return;
      off();
      resolve(e);
    });
  });
}

for (const [name, open] of stores) {
  describe(`TaskStore dependencies: ${name}`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await open();
      nextId = idPool(store);
    });
    afterEach(async () => {
      await store.close();
    });

    it('runs a 3-deep chain in order, each with the result value in place', async () => {
      const a = task([1]);
      const b = task([ref(a.id), 'x'], {}, 'f2');
      const c = task([ref(b.id)]);
      await store.enqueue([a, b, c]);
      expect((await record(store, b.id)).status).to.equal('WAITING');
      expect((await record(store, b.id)).depends_on).to.deep.equal([a.id]);
      expect((await record(store, c.id)).depends_on).to.deep.equal([b.id]);
      expect((await record(store, a.id)).depends_on).to.equal(undefined);
      expect([...(await claimAll(store)).keys()]).to.deep.equal([a.id]);
      await store.complete([done(a.id, 1, '{"v":[1,2.50,"é"]}')]);
      const second = await claimAll(store);
      expect([...second.keys()]).to.deep.equal([b.id]);
      // The result text goes in byte for byte: no re-encoding of numbers or text.
      expect(second.get(b.id)?.args).to.equal('[{"v":[1,2.50,"é"]},"x"]');
      expect((await record(store, c.id)).status).to.equal('WAITING');
      await store.complete([done(b.id, 1, '42')]);
      const third = await claimAll(store);
      expect(third.get(c.id)?.args).to.equal('[42]');
      await store.complete([done(c.id, 1, '"end"')]);
      expect((await record(store, c.id)).status).to.equal('COMPLETED');
    });

    it('keeps the text around references exactly, however it is spaced', async () => {
      const a = task();
      await store.enqueue([a]);
      const text = `[ "π", { "$task" : "${a.id}" } ,[{"$task":"${a.id}"}], {"k":1} ]`;
      const args: unknown[] = JSON.parse(text);
      const refs = findReferences(text, args);
      const b: NewTask = { ...task(), args: text, refs, depends_on: [a.id] };
      await store.enqueue([b]);
      await claimAll(store);
      await store.complete([done(a.id, 1, '"A"')]);
      // Only elements of the argument array are references, not nested ones.
      expect((await claimAll(store)).get(b.id)?.args).to.equal(
        `[ "π", "A" ,[{"$task":"${a.id}"}], {"k":1} ]`,
      );
    });

    it('fans in 100 results across two functions, in argument order', async () => {
      const maps = Array.from({ length: 100 }, (_, i) => task([i], {}, i % 2 ? 'f1' : 'f2'));
      const reduce = task(
        maps.map((m) => ref(m.id)),
        {},
        'f3',
      );
      await store.enqueue(maps);
      await store.enqueue([reduce]);
      expect((await record(store, reduce.id)).depends_on).to.have.length(100);
      const claimed = await claimAll(store);
      expect(claimed.size).to.equal(100);
      // Completed out of order, in two calls: the last one releases the reduce.
      const outcomes = maps.map((m, i) => done(m.id, 1, String(i * 10))).reverse();
      await store.complete(outcomes.slice(0, 99));
      expect((await record(store, reduce.id)).status).to.equal('WAITING');
      expect(await claimAll(store)).to.have.property('size', 0);
      await store.complete(outcomes.slice(99));
      const last = await claimAll(store);
      expect(last.get(reduce.id)?.args).to.equal(
        JSON.stringify(Array.from({ length: 100 }, (_, i) => i * 10)),
      );
    });

    it('fans out: one result releases every task that takes it, at their priorities', async () => {
      const a = task();
      await store.enqueue([a]);
      const low = task([ref(a.id), 1], { priority: -5 });
      const plain = task([ref(a.id), 2]);
      const high = task([ref(a.id), 3], { priority: 9 });
      const twice = task([ref(a.id), ref(a.id)]);
      await store.enqueue([low, plain, high, twice]);
      await claimAll(store);
      const queued = nextEvent(store, (e) => e.type === 'queued');
      await store.complete([done(a.id, 1, '7')]);
      await queued;
      expect(await store.queueDepth()).to.equal(4);
      const order: string[] = [];
      for (;;) {
        const { tasks } = await store.claim(1, 'me/w', 60_000);
        const t = tasks[0];
        if (!t) break;
        order.push(t.args);
      }
      expect(order).to.deep.equal(['[7,3]', '[7,2]', '[7,7]', '[7,1]']);
    });

    it('fails dependents down a chain when a dependency fails, naming it', async () => {
      const a = task();
      const b = task([ref(a.id)]);
      const c = task([ref(b.id)]);
      const d = task([ref(c.id), ref(a.id)]);
      await store.enqueue([a, b, c, d]);
      await claimAll(store);
      const finished = new Set<string>();
      const all = new Promise<void>((resolve) => {
        const off = store.subscribe((e) => {
          if (e.type !== 'finished') return;
          for (const id of e.ids) finished.add(id);
          if ([b.id, c.id, d.id].every((id) => finished.has(id))) {
            off();
            resolve();
          }
        });
      });
      await store.complete([boom(a.id, 1)]);
      await all;
      // d waited on c and a: a, which ended first, failed it.
      for (const [t, dep] of [
        [b, a],
        [c, b],
        [d, a],
      ] as const) {
        const r = await record(store, t.id);
        expect(r.status).to.equal('FAILED');
        expect(r.attempts).to.equal(0);
        expect(r.finished_at).to.be.a('number');
        expect(errorOf(r).name).to.equal('DependencyFailedError');
        expect(errorOf(r).message).to.equal(`Dependency ${dep.id} failed`);
      }
      expect((await store.listTasks({ status: 'FAILED', limit: 10 })).tasks).to.have.length(4);
    });

    it('fails dependents of a cancelled task, and of a task lost too often', async () => {
      const a = task();
      const b = task([ref(a.id)]);
      await store.enqueue([a, b]);
      await store.cancel(a.id);
      const rb = await record(store, b.id);
      expect(rb.status).to.equal('FAILED');
      expect(errorOf(rb)).to.deep.equal({
        name: 'DependencyFailedError',
        message: `Dependency ${a.id} was cancelled`,
      });
      const lost = task();
      const after = task([ref(lost.id)]);
      await store.enqueue([lost, after]);
      await claimAll(store);
      await store.requeue([{ id: lost.id, attempt: 1 }], 1);
      expect((await record(store, lost.id)).status).to.equal('FAILED');
      expect(errorOf(await record(store, after.id)).message).to.equal(
        `Dependency ${lost.id} failed`,
      );
    });

    it('does not release or fail dependents on a retry-policy retry, only on the end', async () => {
      const a = task([1], { retry: { max_attempts: 2, backoff: 'fixed', delay_ms: 0 } });
      const b = task([ref(a.id)]);
      await store.enqueue([a, b]);
      await claimAll(store);
      await store.complete([boom(a.id, 1)]);
      expect((await record(store, a.id)).status).to.equal('WAITING');
      expect((await record(store, b.id)).status).to.equal('WAITING');
      await store.promoteDue(Date.now() + 1);
      expect([...(await claimAll(store)).keys()]).to.deep.equal([a.id]);
      await store.complete([done(a.id, 2, '"second"')]);
      expect((await claimAll(store)).get(b.id)?.args).to.equal('["second"]');
    });

    it('resolves a dependency already COMPLETED at once, and fails on one already FAILED', async () => {
      const a = task();
      const f = task();
      await store.enqueue([a, f]);
      await claimAll(store);
      await store.complete([done(a.id, 1, 'true'), boom(f.id, 1)]);
      const ready = task([ref(a.id), ref(a.id)]);
      const doomed = task([ref(a.id), ref(f.id)]);
      await store.enqueue([ready, doomed]);
      expect((await record(store, ready.id)).status).to.equal('QUEUED');
      expect((await record(store, ready.id)).depends_on).to.deep.equal([a.id]);
      const rd = await record(store, doomed.id);
      expect(rd.status).to.equal('FAILED');
      expect(errorOf(rd).message).to.equal(`Dependency ${f.id} failed`);
      expect((await claimAll(store)).get(ready.id)?.args).to.equal('[true,true]');
    });

    it('fails a dependent whose dependency result expired before the last one came', async () => {
      const short = await open(1);
      try {
        const a = task();
        const b = task();
        const c = task([ref(a.id), ref(b.id)]);
        await short.enqueue([a, b, c]);
        await claimAll(short);
        await short.complete([done(a.id, 1, '1')]);
        await new Promise((r) => setTimeout(r, 2100));
        expect(await short.getTask(a.id)).to.equal(undefined);
        await short.complete([done(b.id, 1, '2')]);
        const r = await record(short, c.id);
        expect(r.status).to.equal('FAILED');
        expect(errorOf(r).message).to.equal(
          `Dependency ${a.id} expired: its result is no longer kept`,
        );
      } finally {
        await short.close();
      }
    });

    it('fails a dependent whose deadline passes while it waits, and its own dependents', async () => {
      const a = task();
      const now = Date.now();
      const b = task([ref(a.id)], { deadline_at: now + 50 });
      const c = task([ref(b.id)]);
      await store.enqueue([a, b, c]);
      const result = await store.promoteDue(now + 100);
      expect(result.failed).to.deep.equal([b.id]);
      expect(errorOf(await record(store, b.id)).name).to.equal('DeadlineExceededError');
      expect(errorOf(await record(store, c.id)).message).to.equal(`Dependency ${b.id} failed`);
      await claimAll(store);
      await store.complete([done(a.id, 1, '1')]);
      expect(await store.queueDepth()).to.equal(0);
    });

    it('keeps a released task with a delay WAITING until its run_at', async () => {
      const a = task();
      const runAt = Date.now() + 60_000;
      const b = task([ref(a.id)], { run_at: runAt });
      await store.enqueue([a, b]);
      await claimAll(store);
      await store.complete([done(a.id, 1, '5')]);
      expect((await record(store, b.id)).status).to.equal('WAITING');
      expect(await store.queueDepth()).to.equal(0);
      expect((await store.promoteDue(runAt)).promoted).to.equal(1);
      expect((await claimAll(store)).get(b.id)?.args).to.equal('[5]');
    });

    it('releases a task into its lane: only a holder with its labels takes it', async () => {
      const gpu = { id: laneId({ labels: ['gpu'] }), limit: 0 };
      const a = task();
      const b = task([ref(a.id)], { lane: gpu });
      await store.enqueue([a, b]);
      expect((await record(store, b.id)).lane).to.equal(gpu.id);
      await claimAll(store);
      await store.complete([done(a.id, 1, '3')]);
      // The default holder does not take a labelled task; one with the label does.
      expect((await store.claim(10, 'me/w', 60_000)).tasks).to.deep.equal([]);
      const { tasks } = await store.claim(10, 'me/gpu', 60_000, claimFilter(['gpu'], undefined));
      expect(tasks.map((t) => [t.id, t.args])).to.deep.equal([[b.id, '[3]']]);
    });

    it('cancels a waiting task whose function was deleted, when its dependency completes', async () => {
      const a = task();
      const b = task([ref(a.id)], {}, 'f2');
      const c = task([ref(b.id)]);
      await store.enqueue([a, b, c]);
      await store.deleteFunction('f2');
      expect((await record(store, b.id)).status).to.equal('WAITING');
      await claimAll(store);
      await store.complete([done(a.id, 1, '1')]);
      expect((await record(store, b.id)).status).to.equal('CANCELLED');
      expect(errorOf(await record(store, c.id)).message).to.equal(
        `Dependency ${b.id} was cancelled`,
      );
      expect(await store.queueDepth()).to.equal(0);
    });

    it('retries a dependent that failed with its dependency: it waits for the retried one', async () => {
      const a = task();
      const b = task([ref(a.id)]);
      await store.enqueue([a, b]);
      await claimAll(store);
      await store.complete([boom(a.id, 1)]);
      expect((await record(store, b.id)).status).to.equal('FAILED');
      // Retrying the dependent alone fails it again: its dependency is still FAILED.
      await store.retryTask(b.id);
      expect(errorOf(await record(store, b.id)).name).to.equal('DependencyFailedError');
      await store.retryTask(a.id);
      await store.retryTask(b.id);
      expect((await record(store, b.id)).status).to.equal('WAITING');
      await claimAll(store);
      await store.complete([done(a.id, 2, '"again"')]);
      expect((await claimAll(store)).get(b.id)?.args).to.equal('["again"]');
    });
  });
}

describe('TaskStore dependencies: both stores agree', () => {
  it('answers the same records for the same scripted run', async () => {
    const since = Date.now();
    const ids = Array.from({ length: 8 }, () => randomUUID());
    const at = (i: number) => ids[i] as string;
    const make = (i: number, args: unknown[], extra: Partial<NewTask> = {}): NewTask => ({
      ...task(args, extra),
      id: at(i),
      created_at: since,
    });
    const script = async (store: TaskStore): Promise<unknown[]> => {
      const out: unknown[] = [];
      await store.enqueue([make(0, [1]), make(1, [2]), make(2, [ref(at(0)), ref(at(1))])]);
      await store.enqueue([make(3, [ref(at(2))], { priority: 3 }), make(4, [ref(at(1))])]);
      out.push(await store.getTasks(ids));
      await claimAll(store);
      await store.complete([done(at(0), 1, '[0]'), boom(at(1), 1)]);
      await store.enqueue([make(5, [ref(at(0))]), make(6, [ref(at(4))]), make(7, [ref(at(3))])]);
      out.push(await store.getTasks(ids));
      await store.retryTask(at(1));
      await store.retryTask(at(2));
      await store.retryTask(at(4));
      out.push(await store.getTasks(ids));
      out.push([...(await claimAll(store)).entries()].sort());
      await store.complete([done(at(1), 2, '{"one":1}')]);
      out.push([...(await claimAll(store)).entries()].sort());
      out.push(await store.getTasks(ids));
      return out.map((o) => normalise(o, since));
    };
    const memory = await withFunctions(new MemoryStore());
    const redis = await openRedis()();
    try {
      const a = await script(memory);
      const b = await script(redis);
      expect(b).to.deep.equal(a);
    } finally {
      await memory.close();
      await redis.close();
    }
  });
});
