/**
 * What only the store sharded over a Redis Cluster has to get right, on a
 * real 3-master cluster: shards spread evenly over the masters; a batch
 * lands in one shard and batches go round-robin; dependencies across shards
 * are released (or failed) by messages, also when the server relaying them
 * died holding the relay; priorities hold across shards; a function's
 * concurrency limit holds across servers; listing pages through every shard;
 * a server started with another shard count is refused.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createClient } from 'redis';
import { laneId } from '../server/store/lanes.js';
import { shardOfId, shardTag, slotOf } from '../server/store/shard-map.js';
import type { ShardedStore } from '../server/store/sharded-store.js';
import type { NewTask, TaskRecord } from '../server/store/task-store.js';
import { openShardedStore, storeBatch } from './helpers/every-store.js';
import { testCluster } from './helpers/root-hooks.js';
import { until } from './helpers/wait.js';

const ref = (id: string) => ({ $task: id });

async function statusOf(store: ShardedStore, id: string): Promise<string | undefined> {
  return (await store.getTask(id))?.status;
}

async function record(store: ShardedStore, id: string): Promise<TaskRecord> {
  const found = await store.getTask(id);
  if (!found) throw new Error(`no task ${id}`);
  return found;
}

/** Runs every runnable task: claims until none is left, completing each with `value(args)`. */
async function runAll(store: ShardedStore, value: (args: string) => string): Promise<number> {
  let ran = 0;
  for (;;) {
    const { tasks } = await store.claim(100, 'me/w', 60_000);
    if (tasks.length === 0) return ran;
    await store.complete(
      tasks.map((t) => ({
        id: t.id,
        attempt: t.attempt,
        status: 'COMPLETED' as const,
        value: value(t.args),
        run_ms: 1,
      })),
    );
    ran += tasks.length;
  }
}

const sum = (args: string) => String((JSON.parse(args) as number[]).reduce((a, b) => a + b, 0));

describe('ShardedStore on a 3-master Redis Cluster', function () {
  this.timeout(60_000);
  let store: ShardedStore;
  beforeEach(async () => {
    store = await openShardedStore();
    for (const s of [store]) {
      await s.registerFunction({ id: 'f1', name: 'f1', source: '(x) => x', created_at: 1 });
    }
  });
  afterEach(async () => {
    await store.close();
  });

  it('spreads its 16 shards over the 3 masters 6/5/5, by the slots the cluster gave them', async () => {
    const cluster = await testCluster();
    const client = createClient({ url: `redis://${cluster.seeds.split(',')[0]}` });
    await client.connect();
    const slots = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as [
      number,
      number,
      [string, number],
    ][];
    await client.close();
    const perNode = new Map<number, number>();
    for (let s = 0; s < 16; s++) {
      const slot = slotOf(shardTag(s, 16));
      const range = slots.find(([low, high]) => slot >= low && slot <= high);
      const port = range?.[2][1] ?? -1;
      perNode.set(port, (perNode.get(port) ?? 0) + 1);
    }
    expect([...perNode.values()].sort()).to.deep.equal([5, 5, 6]);
  });

  it('keeps a batch in one shard and sends batches round-robin', () => {
    const shards = Array.from({ length: 16 }, () => {
      const ids = store.newTaskIds([{}, {}, {}]);
      const mine = new Set(ids.map((id) => shardOfId(id, 16)));
      expect(mine.size, 'one batch, one shard').to.equal(1);
      return [...mine][0];
    });
    expect(new Set(shards).size, '16 batches, 16 shards').to.equal(16);
  });

  it('releases a dependent whose dependencies are in two other shards, with their results in place', async () => {
    const [a] = storeBatch(store, [[1, 2]]);
    const [b] = storeBatch(store, [[10, 20]]);
    if (!a || !b) throw new Error('no tasks');
    await store.enqueue([a]);
    await store.enqueue([b]);
    const [c] = storeBatch(store, [[ref(a.id), ref(b.id), 100]]);
    if (!c) throw new Error('no task');
    expect(new Set([a, b, c].map((t) => shardOfId(t.id, 16))).size).to.equal(3);
    await store.enqueue([c]);
    expect((await record(store, c.id)).status).to.equal('WAITING');
    expect(await runAll(store, sum)).to.equal(2);
    // The results cross shards by message: the dependent is queued once they arrive.
    expect(
      await until(
        () => statusOf(store, c.id),
        (st) => st === 'QUEUED',
        10_000,
      ),
    ).to.equal('QUEUED');
    const { tasks } = await store.claim(10, 'me/w', 60_000);
    expect(tasks.map((t) => [t.id, t.args])).to.deep.equal([[c.id, '[3,30,100]']]);
  });

  it('fails a dependent in another shard when its dependency fails, and its own dependents after it', async () => {
    const [a] = storeBatch(store, [[1]]);
    if (!a) throw new Error('no task');
    await store.enqueue([a]);
    const [b] = storeBatch(store, [[ref(a.id)]]);
    if (!b) throw new Error('no task');
    await store.enqueue([b]);
    const [c] = storeBatch(store, [[ref(b.id)]]);
    if (!c) throw new Error('no task');
    await store.enqueue([c]);
    const { tasks } = await store.claim(10, 'me/w', 60_000);
    expect(tasks.map((t) => t.id)).to.deep.equal([a.id]);
    const boom = JSON.stringify({ name: 'BoomError', message: 'boom', stack: 's' });
    await store.complete([{ id: a.id, attempt: 1, status: 'FAILED', value: boom, run_ms: 1 }]);
    expect(
      await until(
        () => statusOf(store, c.id),
        (st) => st === 'FAILED',
        10_000,
      ),
    ).to.equal('FAILED');
    const failedB = await record(store, b.id);
    expect(failedB.status).to.equal('FAILED');
    expect(JSON.parse(failedB.result ?? '{}').message).to.equal(`Dependency ${a.id} failed`);
    expect(JSON.parse((await record(store, c.id)).result ?? '{}').message).to.equal(
      `Dependency ${b.id} failed`,
    );
  });

  it('resolves a dependency in another shard that had already completed at submit', async () => {
    const [a] = storeBatch(store, [[4, 5]]);
    if (!a) throw new Error('no task');
    await store.enqueue([a]);
    await runAll(store, sum);
    const [b] = storeBatch(store, [[ref(a.id), 1]]);
    if (!b) throw new Error('no task');
    await store.enqueue([b]);
    expect((await record(store, b.id)).status, 'queued at once, as on one Redis').to.equal(
      'QUEUED',
    );
    const { tasks } = await store.claim(10, 'me/w', 60_000);
    expect(tasks.map((t) => t.args)).to.deep.equal(['[9,1]']);
  });

  it('relays after the server holding a shard outbox died: its lock runs out and another takes over', async () => {
    const [a] = storeBatch(store, [[1, 1]]);
    if (!a) throw new Error('no task');
    await store.enqueue([a]);
    const [b] = storeBatch(store, [[ref(a.id)]]);
    if (!b) throw new Error('no task');
    // A dead server holds the relay lock of every shard for 2 s.
    const cluster = await testCluster();
    const { createCluster } = await import('redis');
    const admin = createCluster({
      rootNodes: cluster.seeds.split(',').map((s) => ({ url: `redis://${s}` })),
    });
    await admin.connect();
    const prefix = store.keyPrefix;
    for (let s = 0; s < 16; s++) {
      await admin.set(`${prefix}{${shardTag(s, 16)}}:relay-lock`, 'dead-server', { PX: 2000 });
    }
    await admin.close();
    const started = Date.now();
    await store.enqueue([b]);
    await runAll(store, sum);
    expect(
      await until(
        () => statusOf(store, b.id),
        (st) => st === 'QUEUED',
        15_000,
      ),
    ).to.equal('QUEUED');
    expect(Date.now() - started, 'relayed once the lock ran out').to.be.above(1500);
    const { tasks } = await store.claim(10, 'me/w', 60_000);
    expect(tasks.map((t) => t.args)).to.deep.equal(['[2]']);
  });

  it('gives the highest priority first whichever shard holds it', async () => {
    const low = storeBatch(store, [[1], [2], [3]], { priority: -5 });
    const none = storeBatch(store, [[4], [5]]);
    const high = storeBatch(store, [[6], [7]], { priority: 9 });
    for (const b of [low, none, high]) await store.enqueue(b);
    const order: string[] = [];
    for (;;) {
      const { tasks } = await store.claim(1, 'me/w', 60_000);
      if (tasks.length === 0) break;
      order.push(...tasks.map((t) => t.args));
    }
    expect(order).to.deep.equal(['[6]', '[7]', '[4]', '[5]', '[1]', '[2]', '[3]']);
  });

  it('holds a concurrency limit across two servers: its tasks live in one shard', async () => {
    const other = await openShardedStore({ prefix: store.keyPrefix });
    try {
      const lane = { id: laneId({ labels: [], limited: { fn: 'f1', limit: 3 } }), limit: 3 };
      const tasks = [
        ...storeBatch(store, [[1], [2], [3], [4]], { lane }),
        ...storeBatch(other, [[5], [6], [7], [8]], { lane }),
      ];
      expect(new Set(tasks.map((t) => shardOfId(t.id, 16))).size).to.equal(1);
      await store.enqueue(tasks.slice(0, 4));
      await other.enqueue(tasks.slice(4));
      const [mine, theirs] = await Promise.all([
        store.claim(10, 'a/w', 60_000),
        other.claim(10, 'b/w', 60_000),
      ]);
      expect(mine.tasks.length + theirs.tasks.length).to.equal(3);
    } finally {
      await other.close();
    }
  });

  it('pages through every shard newest first, each task exactly once', async () => {
    const all: string[] = [];
    for (let b = 0; b < 5; b++) {
      const tasks = storeBatch(store, [
        [b, 0],
        [b, 1],
        [b, 2],
      ]);
      await store.enqueue(tasks);
      all.push(...tasks.map((t) => t.id));
      await new Promise((r) => setTimeout(r, 3));
    }
    const seen: TaskRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listTasks({ limit: 4, cursor });
      seen.push(...page.tasks);
      cursor = page.next_cursor;
    } while (cursor !== undefined);
    expect(seen.map((t) => t.id).sort()).to.deep.equal([...all].sort());
    const created = seen.map((t) => t.created_at);
    expect(created).to.deep.equal([...created].sort((x, y) => y - x));
  });

  it('finds a task stored under an idempotency key from any batch', async () => {
    const ids = store.newTaskIds([{ idempotency_key: 'k-1' }]);
    const first: NewTask = {
      id: ids[0] as string,
      function_id: 'f1',
      args: '[1]',
      timeout_ms: 1000,
      created_at: Date.now(),
      idempotency_key: 'k-1',
    };
    await store.enqueue([first]);
    const again = store.newTaskIds([{}, { idempotency_key: 'k-1' }]);
    const repeat = { ...first, id: again[1] as string };
    const { duplicates } = await store.enqueue([repeat]);
    expect([...duplicates]).to.deep.equal([[0, first.id]]);
  });

  it('refuses to start with another shard count than the data under its prefix was made with', async () => {
    let error: unknown;
    try {
      const wrong = await openShardedStore({ prefix: store.keyPrefix, shards: 8 });
      await wrong.close();
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.match(/--shards 16/);
  });

  it('answers the same store contract from a second server: events cross shards and servers', async () => {
    const other = await openShardedStore({ prefix: store.keyPrefix, instanceId: randomUUID() });
    try {
      const finished: string[] = [];
      store.subscribe((e) => {
        if (e.type === 'finished') finished.push(...e.ids);
      });
      const tasks = storeBatch(store, [[1, 2]]);
      await store.enqueue(tasks);
      await runAll(other, sum);
      expect(
        await until(
          async () => finished.length,
          (n) => n === 1,
          5000,
        ),
      ).to.equal(1);
      expect((await record(store, tasks[0]?.id ?? '')).result).to.equal('3');
    } finally {
      await other.close();
    }
  });
});
