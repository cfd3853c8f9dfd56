/**
 * TaskStore.setProgress on both stores: stored only while the task is
 * RUNNING under the attempt given, announced as a progress event (to this
 * server's listeners and, on Redis, to other servers on the same prefix),
 * and read back in the record.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { MemoryStore } from '../server/store/memory-store.js';
import { parseEventMessage } from '../server/store/redis-keys.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { NewTask, StoreEvent, TaskStore } from '../server/store/task-store.js';
import { idPool, openShardedStore } from './helpers/every-store.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { until } from './helpers/wait.js';

/** Where test task ids come from: the store under test, once one is open. */
let nextId: () => string = randomUUID;

function newTask(): NewTask {
  return { id: nextId(), function_id: 'f1', args: '[1]', timeout_ms: 1000, created_at: 1 };
}

async function openRedis(prefix: string): Promise<RedisStore> {
  const store = new RedisStore({ url: testRedis().url, prefix, instanceId: randomUUID() });
  await store.connect();
  return store;
}

const stores: [string, () => Promise<TaskStore>][] = [
  ['MemoryStore', async () => new MemoryStore()],
  ['RedisStore', () => openRedis(uniquePrefix())],
  ['ShardedStore (cluster)', () => openShardedStore()],
];

for (const [name, open] of stores) {
  describe(`TaskStore.setProgress: ${name}`, () => {
    let store: TaskStore;
    let events: StoreEvent[];
    beforeEach(async () => {
      store = await open();
      nextId = idPool(store);
      events = [];
      store.subscribe((event) => events.push(event));
    });
    afterEach(() => store.close());

    async function running(): Promise<string> {
      const task = newTask();
      await store.enqueue([task]);
      const { tasks } = await store.claim(1, 'me/local', 60_000);
      expect(tasks.map((t) => t.id)).to.deep.equal([task.id]);
      return task.id;
    }

    it('stores progress on a RUNNING task under its attempt, with the note, and announces it', async () => {
      const id = await running();
      const progress = { value: 0.5, note: 'half way, "quoted"', at: 1234 };
      expect(await store.setProgress(id, 1, progress)).to.equal(true);
      expect((await store.getTask(id))?.progress).to.deep.equal(progress);
      expect(events.filter((e) => e.type === 'progress')).to.deep.equal([
        { type: 'progress', id, progress },
      ]);
      // A later update replaces it; no note is no note.
      expect(await store.setProgress(id, 1, { value: 1, at: 1300 })).to.equal(true);
      expect((await store.getTask(id))?.progress).to.deep.equal({ value: 1, at: 1300 });
    });

    it('refuses progress for another attempt, a finished task, a queued one and an unknown id', async () => {
      const id = await running();
      expect(await store.setProgress(id, 2, { value: 0.1, at: 1 })).to.equal(false);
      expect(await store.setProgress(id, 0, { value: 0.1, at: 1 })).to.equal(false);
      // Lost and leased again: the first attempt's late update is refused, the second's taken.
      await store.requeue([{ id, attempt: 1 }], 5);
      expect(await store.setProgress(id, 1, { value: 0.2, at: 2 })).to.equal(false);
      const { tasks } = await store.claim(1, 'me/local', 60_000);
      expect(tasks[0]?.attempt).to.equal(2);
      expect(await store.setProgress(id, 2, { value: 0.3, at: 3 })).to.equal(true);
      await store.complete([{ id, attempt: 2, status: 'COMPLETED', value: '1', run_ms: 1 }]);
      expect(await store.setProgress(id, 2, { value: 0.9, at: 4 })).to.equal(false);
      const record = await store.getTask(id);
      expect(record?.status).to.equal('COMPLETED');
      expect(record?.progress).to.deep.equal({ value: 0.3, at: 3 });
      const queued = newTask();
      await store.enqueue([queued]);
      expect(await store.setProgress(queued.id, 0, { value: 0.5, at: 5 })).to.equal(false);
      expect(await store.setProgress(randomUUID(), 1, { value: 0.5, at: 5 })).to.equal(false);
      expect(events.filter((e) => e.type === 'progress')).to.have.length(1);
    });
  });
}

describe('progress events across servers on one Redis', () => {
  it('a server sees the progress another server stored, note spaces and all', async () => {
    const prefix = uniquePrefix();
    const [a, b] = await Promise.all([openRedis(prefix), openRedis(prefix)]);
    try {
      const seen: StoreEvent[] = [];
      b.subscribe((event) => seen.push(event));
      const task = newTask();
      await a.enqueue([task]);
      await a.claim(1, 'a/local', 60_000);
      const progress = { value: 0.25, note: 'a note with spaces', at: 99 };
      expect(await a.setProgress(task.id, 1, progress)).to.equal(true);
      const got = await until(
        async () => seen.filter((e) => e.type === 'progress'),
        (list) => list.length > 0,
        5000,
        20,
      );
      expect(got).to.deep.equal([{ type: 'progress', id: task.id, progress }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('parses progress event messages and refuses malformed ones', () => {
    expect(parseEventMessage('inst p id-1 {"value":0.5,"note":"a b c","at":7}')).to.deep.equal({
      instance: 'inst',
      kind: 'progress',
      id: 'id-1',
      progress: { value: 0.5, note: 'a b c', at: 7 },
    });
    expect(parseEventMessage('inst p id-1 {"value":"x","at":7}')).to.equal(undefined);
    expect(parseEventMessage('inst p id-1 not json')).to.equal(undefined);
    expect(parseEventMessage('inst c id-2 owner/x')).to.deep.equal({
      instance: 'inst',
      kind: 'cancelled',
      id: 'id-2',
      owner: 'owner/x',
    });
  });
});
