/**
 * The ScheduleStore contract on both stores, and the two compared whole:
 * for the same calls both answer deep-equal records. The compare-and-set is
 * what keeps a slot from firing twice, so it is checked from two store
 * handles on one Redis too.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createClient } from 'redis';
import { MemoryStore } from '../server/store/memory-store.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { ScheduleRecord } from '../server/store/schedule-store.js';
import type { TaskStore } from '../server/store/task-store.js';
import { openShardedStore } from './helpers/every-store.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { until } from './helpers/wait.js';

function schedule(next: number, extra: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    id: randomUUID(),
    function_id: randomUUID(),
    cron: '*/5 * * * *',
    payload: '[1,"a"]',
    next_run_at: next,
    created_at: 1_000,
    ...extra,
  };
}

async function openRedis(prefix = uniquePrefix()): Promise<RedisStore> {
  const store = new RedisStore({ url: testRedis().url, prefix, instanceId: randomUUID() });
  await store.connect();
  return store;
}

const stores: [string, () => Promise<TaskStore>][] = [
  ['memory', async () => new MemoryStore()],
  ['redis', () => openRedis()],
  ['cluster', () => openShardedStore()],
];

/** The same calls on any store; returns everything it read, for comparing stores. */
async function script(store: TaskStore): Promise<unknown[]> {
  const s = store.schedules;
  const a = schedule(5_000, {
    id: '00000000-0000-4000-8000-00000000000a',
    function_id: '00000000-0000-4000-8000-0000000000f0',
  });
  const b = schedule(3_000, {
    id: '00000000-0000-4000-8000-00000000000b',
    function_id: '00000000-0000-4000-8000-0000000000f1',
    timezone: 'Europe/Paris',
    priority: -7,
    timeout_ms: 250,
  });
  const c = schedule(9_000, {
    id: '00000000-0000-4000-8000-00000000000c',
    function_id: '00000000-0000-4000-8000-0000000000f2',
  });
  const seen: unknown[] = [];
  for (const x of [a, b, c]) await s.add(x);
  seen.push(await s.list(), await s.earliest(), await s.due(5_000, 10), await s.due(5_000, 1));
  seen.push(
    await s.advance(b.id, 3_000, 7_000, 3_010, 4_000),
    await s.advance(b.id, 3_000, 8_000, 3_020, 4_000),
    await s.earliest(),
    await s.stalled(4_000, 10),
  );
  await s.finish({ id: b.id, slot: 3_000 }, 'task-1');
  seen.push(await s.get(b.id), await s.list(), await s.delete(a.id), await s.delete(a.id));
  seen.push(await s.get(a.id), await s.advance(a.id, 5_000, 6_000, 5_000, 9_000), await s.list());
  await s.finish({ id: a.id, slot: 5_000 }, 'task-2');
  seen.push(await s.get(a.id), await s.earliest(), await s.stalled(99_999, 10));
  seen.push(await s.advance(c.id, 9_000, 10_000, 9_000, 9_500));
  seen.push(await s.retake({ id: c.id, slot: 9_000 }, 9_400, 20_000));
  seen.push(await s.retake({ id: c.id, slot: 9_000 }, 9_500, 20_000));
  seen.push(await s.stalled(19_999, 10), await s.stalled(20_000, 10), await s.earliest());
  await s.finish({ id: c.id, slot: 9_000 }, undefined);
  seen.push(await s.get(c.id), await s.stalled(99_999, 10));
  return seen;
}

for (const [name, open] of stores) {
  describe(`ScheduleStore contract: ${name}`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('stores, reads and lists schedules earliest first, and deletes them', async () => {
      const s = store.schedules;
      expect(await s.list()).to.deep.equal([]);
      expect(await s.earliest()).to.equal(undefined);
      const late = schedule(20_000, { timezone: 'America/New_York', priority: 5, timeout_ms: 99 });
      const early = schedule(10_000);
      await s.add(late);
      await s.add(early);
      expect(await s.get(late.id)).to.deep.equal(late);
      expect(await s.get(randomUUID())).to.equal(undefined);
      expect((await s.list()).map((x) => x.id)).to.deep.equal([early.id, late.id]);
      expect(await s.earliest()).to.equal(10_000);
      expect(await s.delete(early.id)).to.equal(true);
      expect(await s.delete(early.id)).to.equal(false);
      expect(await s.list()).to.deep.equal([late]);
      expect(await s.earliest()).to.equal(20_000);
    });

    it('answers due schedules up to now, earliest first, at most limit', async () => {
      const s = store.schedules;
      const [x, y, z] = [schedule(100), schedule(200), schedule(300)];
      for (const one of [z, x, y]) await s.add(one);
      expect((await s.due(99, 10)).map((r) => r.id)).to.deep.equal([]);
      expect((await s.due(200, 10)).map((r) => r.id)).to.deep.equal([x.id, y.id]);
      expect((await s.due(1_000, 2)).map((r) => r.id)).to.deep.equal([x.id, y.id]);
    });

    it('advances a slot once: a second compare-and-set of the same slot loses', async () => {
      const s = store.schedules;
      const one = schedule(1_000);
      await s.add(one);
      expect(await s.advance(one.id, 1_000, 2_000, 1_005, 31_000)).to.equal(true);
      expect(await s.advance(one.id, 1_000, 2_000, 1_006, 31_000)).to.equal(false);
      expect(await s.get(one.id)).to.include({ next_run_at: 2_000, last_run_at: 1_005 });
      expect(await s.earliest()).to.equal(2_000);
      expect(await s.due(1_500, 10)).to.deep.equal([]);
      await s.finish({ id: one.id, slot: 1_000 }, 'the-task');
      expect(await s.get(one.id)).to.include({ last_task_id: 'the-task' });
      expect(await s.stalled(99_999, 10)).to.deep.equal([]);
    });

    it('leases a won fire until finished; once the lease ends, one retake wins', async () => {
      const s = store.schedules;
      const one = schedule(1_000);
      await s.add(one);
      await s.advance(one.id, 1_000, 60_000, 1_000, 5_000);
      const fire = { id: one.id, slot: 1_000 };
      // The lease end is what comes first now: the scheduler's timer wakes for it.
      expect(await s.earliest()).to.equal(5_000);
      expect(await s.stalled(4_999, 10)).to.deep.equal([]);
      expect(await s.stalled(5_000, 10)).to.deep.equal([fire]);
      expect(await s.retake(fire, 4_999, 9_000)).to.equal(false);
      const tries = await Promise.all([1, 2, 3].map(() => s.retake(fire, 5_000, 9_000)));
      expect(tries.filter(Boolean)).to.have.length(1);
      expect(await s.stalled(8_999, 10)).to.deep.equal([]);
      await s.finish(fire, 'taken-over');
      expect(await s.stalled(99_999, 10)).to.deep.equal([]);
      expect(await s.retake(fire, 99_999, 199_999)).to.equal(false);
      expect(await s.get(one.id)).to.include({ last_task_id: 'taken-over' });
    });

    it('neither advances nor brings back a deleted schedule, and drops its open fires', async () => {
      const s = store.schedules;
      const one = schedule(1_000);
      await s.add(one);
      await s.advance(one.id, 1_000, 2_000, 1_000, 3_000);
      await s.delete(one.id);
      expect(await s.advance(one.id, 2_000, 4_000, 2_000, 3_000)).to.equal(false);
      const fire = { id: one.id, slot: 1_000 };
      expect(await s.retake(fire, 3_000, 9_000)).to.equal(false);
      expect(await s.stalled(99_999, 10)).to.deep.equal([]);
      await s.finish(fire, 'late');
      expect(await s.get(one.id)).to.equal(undefined);
      expect(await s.list()).to.deep.equal([]);
      expect(await s.earliest()).to.equal(undefined);
    });

    it('tells its listeners about adds and deletes', async () => {
      const s = store.schedules;
      let changes = 0;
      const off = s.onChange(() => changes++);
      const one = schedule(1_000);
      await s.add(one);
      await s.advance(one.id, 1_000, 2_000, 1_000, 3_000);
      await s.delete(one.id);
      off();
      await s.add(schedule(5));
      expect(changes).to.equal(2);
    });
  });
}

describe('ScheduleStore: both stores answer alike', () => {
  it('gives deep-equal answers for the same calls', async () => {
    const memory = new MemoryStore();
    const redis = await openRedis();
    try {
      expect(await script(redis)).to.deep.equal(await script(memory));
    } finally {
      await redis.close();
      await memory.close();
    }
  });
});

describe('ScheduleStore on one Redis from two servers', () => {
  it('lets exactly one of many concurrent compare-and-sets of a slot win', async () => {
    const prefix = uniquePrefix();
    const [a, b] = await Promise.all([openRedis(prefix), openRedis(prefix)]);
    try {
      const one = schedule(1_000);
      await a.schedules.add(one);
      const tries = Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).schedules.advance(one.id, 1_000, 2_000, 1_000 + i, 9_000),
      );
      expect((await Promise.all(tries)).filter(Boolean)).to.have.length(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('drops a due id whose hash something outside taskgrid removed', async () => {
    const store = await openRedis();
    const raw = createClient({ url: testRedis().url });
    await raw.connect();
    try {
      const one = schedule(1_000);
      await store.schedules.add(one);
      await raw.del(store.keys.schedule(one.id));
      expect(await store.schedules.due(5_000, 10)).to.deep.equal([]);
      expect(await store.schedules.earliest()).to.equal(undefined);
    } finally {
      await raw.close();
      await store.close();
    }
  });

  it("wakes the other server's listeners on add and delete (events channel)", async () => {
    const prefix = uniquePrefix();
    const [a, b] = await Promise.all([openRedis(prefix), openRedis(prefix)]);
    try {
      let seenOnB = 0;
      b.schedules.onChange(() => seenOnB++);
      const one = schedule(1_000);
      await a.schedules.add(one);
      expect(
        await until(
          async () => seenOnB,
          (n) => n >= 1,
          5_000,
          20,
        ),
      ).to.equal(1);
      await a.schedules.delete(one.id);
      expect(
        await until(
          async () => seenOnB,
          (n) => n >= 2,
          5_000,
          20,
        ),
      ).to.equal(2);
      expect(await b.schedules.list()).to.deep.equal([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
