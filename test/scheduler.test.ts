/**
 * The Scheduler against both stores with a recording submit: a per-second
 * schedule watched by two schedulers (two servers) fires each slot once; a
 * slot missed while none ran fires once, then the schedule goes on from now;
 * a fire won by a server that died before storing its task is taken over
 * once; a stopped scheduler fires nothing; a deleted schedule stops firing.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import { Cron } from '../server/schedules/cron.js';
import { type FireSubmit, fireKey, Scheduler } from '../server/schedules/scheduler.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { ScheduleRecord } from '../server/store/schedule-store.js';
import type { TaskStore } from '../server/store/task-store.js';
import { UnavailableError } from '../shared/errors.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { sleep, until } from './helpers/wait.js';

const log = pino({ level: 'silent' });

/** Two handles on one store, as two servers have: the same object for memory, two connections for Redis. */
const kinds: [string, () => Promise<[TaskStore, TaskStore]>][] = [
  [
    'memory',
    async () => {
      const store = new MemoryStore();
      return [store, store];
    },
  ],
  [
    'redis',
    async () => {
      const prefix = uniquePrefix();
      const open = async () => {
        const store = new RedisStore({ url: testRedis().url, prefix, instanceId: randomUUID() });
        await store.connect();
        return store;
      };
      return [await open(), await open()];
    },
  ],
];

/** Submits that record the idempotency key of every call, whichever scheduler made it. */
function recorder() {
  const keys: string[] = [];
  const make =
    (): FireSubmit =>
    async (_schedule, { idempotencyKey }) => {
      keys.push(idempotencyKey);
      return `task-${keys.length}`;
    };
  return { keys, make };
}

function perSecond(next: number): ScheduleRecord {
  return {
    id: randomUUID(),
    function_id: randomUUID(),
    cron: '* * * * * *',
    payload: '[]',
    next_run_at: next,
    created_at: Date.now(),
  };
}

for (const [kind, open] of kinds) {
  describe(`Scheduler: ${kind} store`, () => {
    let stores: [TaskStore, TaskStore];
    const running: Scheduler[] = [];
    beforeEach(async () => {
      stores = await open();
    });
    afterEach(async () => {
      await Promise.all(running.splice(0).map((s) => s.stop()));
      await Promise.all(stores.map((s) => s.close()));
    });

    function scheduler(store: TaskStore, submit: FireSubmit, fireLeaseMs?: number): Scheduler {
      const s = new Scheduler({ schedules: store.schedules, submit, log, fireLeaseMs });
      running.push(s);
      s.start();
      return s;
    }

    it('fires each slot of a per-second schedule once, with two schedulers watching', async () => {
      const rec = recorder();
      const [a, b] = [scheduler(stores[0], rec.make()), scheduler(stores[1], rec.make())];
      // Added after both started: the add wakes them (neither has a timer for it yet).
      const one = perSecond(Cron.parse('* * * * * *').next(Date.now()));
      await stores[0].schedules.add(one);
      await until(
        async () => rec.keys.length,
        (n) => n >= 3,
        10_000,
        50,
      );
      await Promise.all([a.stop(), b.stop()]);
      expect(rec.keys.length).to.be.at.least(3);
      expect(new Set(rec.keys).size, 'no slot submitted twice').to.equal(rec.keys.length);
      const slots = rec.keys.map((k) => Number(k.split(':')[2]));
      expect(slots[0]).to.equal(one.next_run_at);
      for (const slot of slots) expect(slot % 1000).to.equal(0);
      const stored = await stores[0].schedules.get(one.id);
      expect(stored?.last_task_id).to.equal(`task-${rec.keys.length}`);
      expect(stored?.last_run_at).to.be.a('number');
      expect(stored?.next_run_at).to.be.greaterThan(slots[slots.length - 1] as number);
    });

    it('fires a slot missed while no scheduler ran once, then goes on from now', async () => {
      // A per-minute schedule: not started just before a minute's slot, which would fire too
      // (the wait below may take seconds on a busy machine: mocha runs two files at once).
      const toNextMinute = 60_000 - (Date.now() % 60_000);
      if (toNextMinute < 15_000) await sleep(toNextMinute + 100);
      const start = Date.now();
      const rec = recorder();
      const missed = Date.now() - 10 * 60_000;
      const one: ScheduleRecord = { ...perSecond(missed), cron: '* * * * *' };
      await stores[0].schedules.add(one);
      scheduler(stores[0], rec.make());
      scheduler(stores[1], rec.make());
      await until(
        async () => rec.keys.length,
        (n) => n >= 1,
        5_000,
        20,
      );
      await sleep(300);
      // The missed slot fires once; a minute that began since (a slow machine) fires as itself.
      const slotOf = (key: string) => Number(key.split(':').pop());
      const unexplained = rec.keys
        .slice(1)
        .filter((key) => slotOf(key) < start || slotOf(key) % 60_000 !== 0);
      expect(rec.keys[0]).to.equal(fireKey(one.id, missed));
      expect(unexplained, JSON.stringify(rec.keys)).to.deep.equal([]);
      const stored = await stores[0].schedules.get(one.id);
      const minute = 60_000;
      expect(stored?.next_run_at).to.be.greaterThan(Date.now());
      expect(stored?.next_run_at).to.be.at.most(Math.ceil(Date.now() / minute) * minute + minute);
      expect(stored?.last_task_id).to.equal(`task-${rec.keys.length}`);
    });

    it('takes over, once, a fire whose server died before storing its task', async () => {
      const rec = recorder();
      const now = Date.now();
      const one: ScheduleRecord = { ...perSecond(now - 1_000), cron: '0 0 1 1 *' };
      await stores[0].schedules.add(one);
      // A server wins the slot and dies before submitting: its lease runs out in 300 ms.
      const later = Cron.parse(one.cron).next(now);
      expect(await stores[1].schedules.advance(one.id, one.next_run_at, later, now, now + 300)).to
        .be.true;
      scheduler(stores[0], rec.make(), 500);
      scheduler(stores[1], rec.make(), 500);
      await until(
        async () => rec.keys.length,
        (n) => n >= 1,
        5_000,
        20,
      );
      await sleep(800);
      expect(rec.keys).to.deep.equal([fireKey(one.id, one.next_run_at)]);
      expect(await stores[0].schedules.stalled(Date.now() + 60_000, 10)).to.deep.equal([]);
      const stored = await stores[0].schedules.get(one.id);
      expect(stored).to.include({ next_run_at: later, last_task_id: 'task-1' });
    });

    it('fires nothing once stopped, or once the schedule is deleted', async () => {
      const rec = recorder();
      const s = scheduler(stores[0], rec.make());
      const one = perSecond(Cron.parse('* * * * * *').next(Date.now()));
      await stores[0].schedules.add(one);
      await until(
        async () => rec.keys.length,
        (n) => n >= 1,
        5_000,
        20,
      );
      await stores[1].schedules.delete(one.id);
      const afterDelete = rec.keys.length;
      const two = perSecond(Cron.parse('* * * * * *').next(Date.now()));
      await stores[0].schedules.add(two);
      await until(
        async () => rec.keys.length,
        (n) => n > afterDelete,
        5_000,
        20,
      );
      await s.stop();
      const atStop = rec.keys.length;
      await sleep(1_300);
      expect(rec.keys.length).to.equal(atStop);
      expect(rec.keys.slice(afterDelete).every((k) => k.includes(two.id))).to.equal(true);
    });

    it('tries a won slot again with the same key while the store is away, then takes it over', async () => {
      const keys: string[] = [];
      // Five failures: every try of the first fire, so its lease runs out and a takeover stores it.
      let failures = 5;
      scheduler(
        stores[0],
        async (_s, { idempotencyKey }) => {
          keys.push(idempotencyKey);
          if (failures-- > 0) throw new UnavailableError('injected');
          return 'task-ok';
        },
        300,
      );
      const one: ScheduleRecord = { ...perSecond(Date.now() - 5_000), cron: '0 0 1 1 *' };
      await stores[0].schedules.add(one);
      const stored = await until(
        async () => (await stores[0].schedules.get(one.id))?.last_task_id,
        (id) => id === 'task-ok',
        10_000,
        20,
      );
      expect(stored).to.equal('task-ok');
      expect(keys).to.deep.equal(Array(6).fill(fireKey(one.id, one.next_run_at)));
      expect(await stores[0].schedules.stalled(Date.now() + 60_000, 10)).to.deep.equal([]);
    });
  });
}
