/**
 * One suite, every store (memory, Redis, sharded over a Redis Cluster): the
 * TaskStore contract, checked on each store alone, and then compared whole:
 * for the same calls the memory and Redis stores answer deep-equal records
 * and events (as bullmq's adapter conformance test does).
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createClient } from 'redis';
import { DISCARD_LUA } from '../server/store/lua/discard.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { NewTask, StoreEvent, TaskStore } from '../server/store/task-store.js';
import type { TaskOutcome } from '../shared/types.js';
import { everyStore, idPool } from './helpers/every-store.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { expectSameTranscripts, normalise } from './helpers/store-transcript.js';

/** Where test task ids come from: the store under test, once one is open. */
let nextId: () => string = randomUUID;

function newTask(fn = 'f1', args = '[1]'): NewTask {
  return { id: nextId(), function_id: fn, args, timeout_ms: 1000, created_at: Date.now() };
}

function done(id: string, attempt: number, value = '2'): TaskOutcome {
  return { id, attempt, status: 'COMPLETED', value, run_ms: 1 };
}

const stores = everyStore();

for (const [name, open] of stores) {
  describe(`TaskStore contract: ${name}`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await open();
      nextId = idPool(store);
    });
    afterEach(async () => {
      await store.close();
    });

    it('stores and reads functions', async () => {
      const id = randomUUID();
      await store.registerFunction({ id, name: 'double', source: 'n => n * 2', created_at: 5 });
      const fn = await store.getFunction(id);
      expect(fn).to.include({ id, name: 'double', source: 'n => n * 2' });
      expect(await store.getFunction(randomUUID())).to.equal(undefined);
    });

    it('queues tasks in FIFO order and leases them with attempt counts', async () => {
      const tasks = [newTask(), newTask(), newTask()];
      await store.enqueue(tasks);
      expect(await store.queueDepth()).to.equal(3);
      const first = await store.claim(2, 'me/w1', 10_000);
      expect(first.tasks.map((t) => t.id)).to.deep.equal([tasks[0]?.id, tasks[1]?.id]);
      expect(first.tasks[0]).to.include({ fn: 'f1', args: '[1]', attempt: 1, timeout_ms: 1000 });
      expect(first.drained).to.equal(false);
      const second = await store.claim(5, 'me/w1', 10_000);
      expect(second.tasks.map((t) => t.id)).to.deep.equal([tasks[2]?.id]);
      expect(second.drained).to.equal(true);
      const record = await store.getTask(tasks[0]?.id as string);
      expect(record).to.include({ status: 'RUNNING', attempts: 1, owner: 'me/w1' });
      expect(record?.started_at).to.be.a('number');
    });

    it('applies the first terminal outcome of the current attempt only', async () => {
      const task = newTask();
      await store.enqueue([task]);
      await store.claim(1, 'me/w1', 10_000);
      expect(await store.complete([done(task.id, 2)])).to.deep.equal([]);
      expect(await store.complete([done(task.id, 1, '"first"')])).to.deep.equal([task.id]);
      expect(await store.complete([done(task.id, 1, '"second"')])).to.deep.equal([]);
      const record = await store.getTask(task.id);
      expect(record).to.include({ status: 'COMPLETED', result: '"first"', run_ms: 1 });
      expect(record?.finished_at).to.be.a('number');
      // Who ran it stays on the finished task (GET /task's `worker`).
      expect(record?.owner).to.equal('me/w1');
    });

    it('requeues lost tasks at the head, then fails them at the attempt cap', async () => {
      const lost = newTask();
      const other = newTask();
      await store.enqueue([lost, other]);
      await store.claim(1, 'me/w1', 10_000);
      const back = await store.requeue([{ id: lost.id, attempt: 1 }], 2);
      expect(back).to.deep.equal({ requeued: [lost.id], failed: [] });
      const again = await store.claim(1, 'me/w2', 10_000);
      expect(again.tasks[0]).to.include({ id: lost.id, attempt: 2 });
      // A late result of attempt 1 is ignored now.
      expect(await store.complete([done(lost.id, 1)])).to.deep.equal([]);
      const capped = await store.requeue([{ id: lost.id, attempt: 2 }], 2);
      expect(capped).to.deep.equal({ requeued: [], failed: [lost.id] });
      const record = await store.getTask(lost.id);
      expect(record?.status).to.equal('FAILED');
      expect(JSON.parse(record?.result as string)).to.include({ name: 'WorkerLostError' });
    });

    it('cancels QUEUED and RUNNING tasks, and refuses finished ones', async () => {
      const queued = newTask();
      const running = newTask();
      await store.enqueue([running, queued]);
      await store.claim(1, 'me/w1', 10_000);
      expect(await store.cancel(queued.id)).to.deep.include({ previous: 'QUEUED', changed: true });
      expect(await store.queueDepth()).to.equal(0);
      expect(await store.cancel(running.id)).to.deep.include({
        previous: 'RUNNING',
        owner: 'me/w1',
        changed: true,
      });
      expect(await store.complete([done(running.id, 1)])).to.deep.equal([]);
      expect((await store.getTask(running.id))?.status).to.equal('CANCELLED');
      expect(await store.cancel(running.id)).to.deep.include({
        previous: 'CANCELLED',
        changed: false,
      });
      expect(await store.cancel(randomUUID())).to.equal(undefined);
      expect((await store.claim(5, 'me/w1', 10_000)).tasks).to.deep.equal([]);
    });

    it('reports expired leases and keeps renewed ones', async () => {
      const a = newTask();
      const b = newTask();
      await store.enqueue([a, b]);
      await store.heartbeat('me', 60_000);
      await store.claim(2, 'me/w1', 50);
      expect(await store.renewLeases([{ id: b.id, attempt: 1 }], 60_000)).to.deep.equal([]);
      await new Promise((r) => setTimeout(r, 80));
      const expired = await store.staleLeases(Date.now(), 10);
      expect(expired).to.deep.equal([{ id: a.id, attempt: 1 }]);
    });

    it('renews a lease only for the attempt that holds it', async () => {
      const task = newTask();
      await store.enqueue([task]);
      await store.claim(1, 'me/w1', 10_000);
      // A peer took it over: requeued and leased again (attempt 2).
      await store.requeue([{ id: task.id, attempt: 1 }], 5);
      await store.claim(1, 'peer/w2', 10_000);
      expect(await store.renewLeases([{ id: task.id, attempt: 1 }], 60_000)).to.deep.equal([
        task.id,
      ]);
      expect(await store.renewLeases([{ id: task.id, attempt: 2 }], 60_000)).to.deep.equal([]);
    });

    it('releases a lease without counting it against the retry cap', async () => {
      const task = newTask();
      await store.enqueue([task]);
      for (let attempt = 1; attempt <= 3; attempt++) {
        await store.claim(1, 'me/w1', 10_000);
        await store.release([{ id: task.id, attempt }]);
      }
      await store.claim(1, 'me/w1', 10_000);
      // Three releases and one loss: under a cap of 2 losses it goes back to the queue.
      expect(await store.requeue([{ id: task.id, attempt: 4 }], 2)).to.deep.equal({
        requeued: [task.id],
        failed: [],
      });
      await store.claim(1, 'me/w1', 10_000);
      const capped = await store.requeue([{ id: task.id, attempt: 5 }], 2);
      expect(capped.failed).to.deep.equal([task.id]);
      const record = await store.getTask(task.id);
      expect(record?.status).to.equal('FAILED');
      expect(record?.result).to.contain('lost 2 time(s)');
    });

    it('stores a task once per idempotency key', async () => {
      const first = { ...newTask(), idempotency_key: 'k1' };
      const again = { ...newTask(), idempotency_key: 'k1' };
      const other = { ...newTask(), idempotency_key: 'k2' };
      expect((await store.enqueue([first])).duplicates.size).to.equal(0);
      const result = await store.enqueue([other, again]);
      expect([...result.duplicates]).to.deep.equal([[1, first.id]]);
      expect(await store.getTask(again.id)).to.equal(undefined);
      expect(await store.queueDepth()).to.equal(2);
    });

    it('reads many tasks in one call, in order', async () => {
      const tasks = [newTask(), newTask()];
      await store.enqueue(tasks);
      const missing = randomUUID();
      const records = await store.getTasks([
        tasks[1]?.id as string,
        missing,
        tasks[0]?.id as string,
      ]);
      expect(records.map((r) => r?.id)).to.deep.equal([tasks[1]?.id, undefined, tasks[0]?.id]);
    });

    it('emits queued and finished events', async () => {
      const events: StoreEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      const task = newTask();
      await store.enqueue([task]);
      await store.claim(1, 'me/w1', 10_000);
      await store.complete([done(task.id, 1)]);
      off();
      expect(events).to.deep.equal([
        { type: 'queued', priority: 0 },
        { type: 'finished', ids: [task.id], outcomes: [done(task.id, 1)] },
      ]);
    });

    it('enqueues a large batch in order in one call', async () => {
      const tasks = Array.from({ length: 1000 }, (_, i) => newTask('f1', `[${i}]`));
      await store.enqueue(tasks);
      const claimed = await store.claim(1000, 'me/w1', 10_000);
      expect(claimed.tasks.map((t) => t.args)).to.deep.equal(tasks.map((t) => t.args));
    });
  });
}

/** Fixed ids, so that both stores see exactly the same calls. */
const ids = Array.from(
  { length: 10 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);
const id = (i: number): string => ids[i] ?? '';
const CREATED = 1_700_000_000_000;

/** Argument text both stores must keep byte for byte: escapes, multi-byte, large. */
const RICH_ARGS = JSON.stringify(['"q" \\ é😀\n', 'x'.repeat(70_000), { k: [1, null] }]);

function fixedTask(i: number, idempotencyKey?: string): NewTask {
  return {
    id: id(i),
    function_id: 'f1',
    args: i === 1 ? RICH_ARGS : `[${i}]`,
    timeout_ms: 1000 + i,
    created_at: CREATED + i,
    ...(idempotencyKey ? { idempotency_key: idempotencyKey } : {}),
  };
}

/**
 * One scripted run of every TaskStore call on a fresh store: every answer,
 * every record read back and every event, in order.
 */
async function transcript(store: TaskStore): Promise<[string, unknown][]> {
  const since = Date.now();
  const out: [string, unknown][] = [];
  const events: StoreEvent[] = [];
  const off = store.subscribe((e) => events.push(e));
  const note = async (label: string, answer: Promise<unknown>) => {
    out.push([label, normalise(await answer, since)]);
  };
  const records = () => note('records', store.getTasks(ids));
  const outcome = (
    i: number,
    attempt: number,
    status: TaskOutcome['status'],
    value: string,
  ): TaskOutcome => ({ id: id(i), attempt, status, value, run_ms: 1.5 + i });
  const lease = (i: number, attempt: number) => ({ id: id(i), attempt });

  await note(
    'register f1',
    store.registerFunction({
      id: 'f1',
      name: 'double',
      source: 'n => n * 2',
      created_at: 5,
      timeout_ms: undefined,
    }),
  );
  await note(
    'register f2',
    store.registerFunction({
      id: 'f2',
      name: 'slow',
      source: 'async () => 1',
      created_at: 6,
      timeout_ms: 250,
    }),
  );
  await note('get f1', store.getFunction('f1'));
  await note('get f2', store.getFunction('f2'));
  await note('get unknown function', store.getFunction('f3'));
  await note('delete f2', store.deleteFunction('f2'));
  await note('delete f2 again', store.deleteFunction('f2'));
  await note('get deleted f2', store.getFunction('f2'));

  // t0..t3 stored; t4 repeats t3's idempotency key in the same batch, t5 in the next.
  const first = [fixedTask(0), fixedTask(1), fixedTask(2), fixedTask(3, 'k'), fixedTask(4, 'k')];
  await note('enqueue', store.enqueue(first));
  await note('enqueue repeated key', store.enqueue([fixedTask(5, 'k')]));
  await note('depth', store.queueDepth());
  await records();

  await note('claim 2', store.claim(2, 'me/w1', 60_000));
  await note('complete wrong attempt', store.complete([outcome(0, 2, 'COMPLETED', '0')]));
  const failure = JSON.stringify({ name: 'Error', message: 'no', stack: '' });
  await note(
    'complete t0, fail t1',
    store.complete([
      outcome(0, 1, 'COMPLETED', JSON.stringify(`zero "ü😀" \\ ${'y'.repeat(70_000)}`)),
      outcome(1, 1, 'FAILED', failure),
    ]),
  );
  await note('complete t0 again', store.complete([outcome(0, 1, 'COMPLETED', '"late"')]));

  // Claims t2 and t3 (older first), then t6, just enqueued: the queue runs dry.
  await note('enqueue and claim', store.enqueueAndClaim([fixedTask(6)], 3, 'me/w2', 60_000));
  await records();

  await note('requeue t2', store.requeue([lease(2, 1)], 2));
  await note('release t3', store.release([lease(3, 1)]));
  await note('requeue a stale attempt', store.requeue([lease(6, 9)], 2));
  await note('claim the returned', store.claim(5, 'me/w3', 60_000));
  await note('renew', store.renewLeases([lease(2, 2), lease(3, 1)], 60_000));
  await note('requeue t2 at the cap', store.requeue([lease(2, 2)], 2));
  await note('requeue released t3', store.requeue([lease(3, 2)], 2));
  await records();

  await note('cancel running t6', store.cancel(id(6)));
  await note('cancel t6 again', store.cancel(id(6)));
  await note('complete cancelled t6', store.complete([outcome(6, 1, 'COMPLETED', '6')]));
  await note('cancel queued t3', store.cancel(id(3)));
  await note('cancel unknown', store.cancel(id(9)));

  // A task that ends CANCELLED through its own outcome.
  await note('enqueue t7 t8 t9', store.enqueue([fixedTask(7), fixedTask(8), fixedTask(9)]));
  await note('claim t7', store.claim(1, 'me/w4', 60_000));
  await note('complete t7 as cancelled', store.complete([outcome(7, 1, 'CANCELLED', '')]));

  // Leases taken at once (the same expiry), looked at from a minute on: both ended.
  await store.heartbeat('me', 60_000);
  await note('claim t8 t9', store.claim(2, 'me/w5', 1000));
  await note('stale leases', store.staleLeases(Date.now() + 60_000, 10));
  await note('requeue the stale', store.requeue([lease(8, 1), lease(9, 1)], 3));
  await note('depth at the end', store.queueDepth());
  await records();
  await note('get one', store.getTask(id(0)));
  await note('get unknown', store.getTask('nope'));
  off();
  out.push(['events', events]);
  return out;
}

describe('TaskStore contract: both stores answer the same records', () => {
  it('gives deep-equal answers, records and events for the same calls', async () => {
    await expectSameTranscripts(transcript);
  });
});

describe('RedisStore: undoing a submit answered 503', () => {
  it('keeps a task whose idempotency key a retry already repeated, removes one nobody holds', async () => {
    const prefix = uniquePrefix();
    const store = new RedisStore({ url: testRedis().url, prefix, instanceId: randomUUID() });
    await store.connect();
    const raw = createClient({ url: testRedis().url });
    await raw.connect();
    try {
      const held = { ...newTask(), idempotency_key: 'held' };
      const orphan = { ...newTask(), idempotency_key: 'orphan' };
      await store.enqueue([held, orphan]);
      // A retry with the first key got the stored task's id back.
      const retry = await store.enqueue([{ ...newTask(), idempotency_key: 'held' }]);
      expect(retry.duplicates.get(0)).to.equal(held.id);
      // The first submit's late reply now undoes it: the held task must survive.
      await raw.eval(DISCARD_LUA, {
        keys: [
          store.keys.queue,
          store.keys.leases,
          store.keys.prio,
          store.keys.delayed,
          store.keys.deadlines,
          store.keys.index,
        ],
        arguments: [
          store.keys.taskHead,
          store.keys.idempotencyHead,
          store.keys.laneQueueHead,
          store.keys.lanePrioHead,
          store.keys.running,
          store.keys.laneVt,
          store.keys.vtNow,
          store.keys.lanes,
          held.id,
          'held',
          orphan.id,
          'orphan',
        ],
      });
      expect((await store.getTask(held.id))?.status).to.equal('QUEUED');
      expect(await store.getTask(orphan.id)).to.equal(undefined);
      expect(await store.queueDepth()).to.equal(1);
      // The orphan's key is free again: a retry stores it afresh.
      expect(
        (await store.enqueue([{ ...newTask(), idempotency_key: 'orphan' }])).duplicates.size,
      ).to.equal(0);
    } finally {
      await raw.close();
      await store.close();
    }
  });
});

describe('RedisStore across servers', () => {
  it('reports the leases of an instance that stopped renewing its liveness key as stale', async () => {
    const prefix = uniquePrefix();
    const store = new RedisStore({ url: testRedis().url, prefix, instanceId: 'a' });
    await store.connect();
    try {
      const live = newTask();
      const orphan = newTask();
      await store.enqueue([live, orphan]);
      await store.heartbeat('alive', 60_000);
      // Long enough that the claims and the first check fit in it on a loaded machine
      // (with 50 ms, a CI run once saw the key gone before the first check).
      await store.heartbeat('dying', 1500);
      await store.claim(1, 'alive/w', 60_000);
      await store.claim(1, 'dying/w', 60_000);
      expect(await store.staleLeases(Date.now(), 10)).to.deep.equal([]);
      await new Promise((r) => setTimeout(r, 1600));
      expect(await store.staleLeases(Date.now(), 10)).to.deep.equal([
        { id: orphan.id, attempt: 1 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('delivers finish events published by another instance on the same prefix', async () => {
    const prefix = uniquePrefix();
    const a = new RedisStore({ url: testRedis().url, prefix, instanceId: 'a' });
    const b = new RedisStore({ url: testRedis().url, prefix, instanceId: 'b' });
    await a.connect();
    await b.connect();
    try {
      const seen = new Promise<StoreEvent>((resolve) => {
        b.subscribe((e) => {
          if (e.type === 'finished') resolve(e);
        });
      });
      const task = newTask();
      await a.enqueue([task]);
      await a.claim(1, 'a/w', 10_000);
      await a.complete([done(task.id, 1)]);
      expect(await seen).to.deep.equal({ type: 'finished', ids: [task.id] });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects start-up with a clear error when Redis does not answer', async () => {
    const store = new RedisStore({
      url: 'redis://127.0.0.1:1',
      instanceId: 'x',
      connectTimeoutMs: 300,
    });
    let error: unknown;
    await store.connect().catch((e: unknown) => {
      error = e;
    });
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/does not answer/);
  });
});
