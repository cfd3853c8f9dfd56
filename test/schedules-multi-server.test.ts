/**
 * Two server processes on one Redis and one prefix share a per-second
 * schedule: every slot fired is exactly one task (never one per server),
 * through a kill -9 and restart of one server; with every server down the
 * missed slots fire once when one comes back; a delete on one server stops
 * the fires on both.
 */

import { expect } from 'chai';
import { createClient } from 'redis';
import { RedisKeys } from '../server/store/redis-keys.js';
import { SF } from '../server/store/schedule-hash.js';
import { GridClient } from './helpers/grid-client.js';
import { killAll, type ServerProcess, startServer, stop } from './helpers/processes.js';
import { redisFlags, testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { sleep, until } from './helpers/wait.js';

describe('schedules across two servers on one Redis', function () {
  this.timeout(90_000);
  afterEach(killAll);

  it('fires each slot once through a restart, and missed slots once after a full outage', async () => {
    const prefix = uniquePrefix();
    const keys = new RedisKeys(prefix);
    const redis = createClient({ url: testRedis().url });
    await redis.connect();
    const serve = () => startServer(['--threads', '1', ...redisFlags(prefix)]);
    /** Fired slots (from the fire keys) → the task each stored. */
    const fired = async (): Promise<Map<number, string>> => {
      const out = new Map<number, string>();
      // Every fire key (scheduler.ts fireKey: `schedule:<id>:<slot>`) in this prefix.
      for (const key of await redis.keys(keys.idempotency('schedule:*'))) {
        out.set(Number(key.split(':').pop()), String(await redis.get(key)));
      }
      return out;
    };
    const firedAtLeast = async (n: number) => (await until(fired, (m) => m.size >= n, 15_000)).size;
    try {
      let a: ServerProcess = await serve();
      const b = await serve();
      const viaA = new GridClient(a.url);
      const fn = await viaA.register('function tick() { return 1 }', 'tick');
      const created = await new GridClient(b.url).call<{ schedule_id: string }>(
        'POST',
        '/schedules',
        { function_id: fn, cron: '* * * * * *', payload: '[]' },
      );
      expect(created.status).to.equal(201);
      const id = created.body.schedule_id;

      // Both running, then one killed and started again while the other runs on.
      expect(await firedAtLeast(2)).to.be.at.least(2);
      await stop(a, 'SIGKILL');
      a = await serve();
      const beforeOutage = (await fired()).size;
      expect(await firedAtLeast(beforeOutage + 2)).to.be.at.least(beforeOutage + 2);

      // Every server down for a few slots, then one back.
      await Promise.all([stop(a, 'SIGKILL'), stop(b, 'SIGKILL')]);
      const pending = Number(await redis.hGet(keys.schedule(id), SF.next));
      await sleep(2_500);
      const restartedAt = Date.now();
      a = await serve();
      const afterOutage = (await fired()).size;
      expect(await firedAtLeast(afterOutage + 2)).to.be.at.least(afterOutage + 2);

      const deleted = await new GridClient(a.url).call('DELETE', `/schedule/${id}`);
      expect(deleted.status).to.equal(200);
      const atDelete = (await fired()).size;
      await sleep(1_500);
      const slots = await fired();
      expect(slots.size, 'no fire after the delete').to.be.at.most(atDelete + 1);

      // Exactly one task per slot fired, and no other task at all.
      const taskKeys = await redis.keys(keys.task('*'));
      expect(taskKeys.length).to.equal(slots.size);
      expect(new Set(slots.values()).size).to.equal(slots.size);
      expect(new Set(taskKeys)).to.deep.equal(
        new Set([...slots.values()].map((t) => keys.task(t))),
      );
      // The outage: the slot pending when the servers died fired once, and the next slot
      // fired is one from after the restart, not the ones missed in between.
      const sorted = [...slots.keys()].sort((x, y) => x - y);
      const missed = sorted.filter((s) => s >= pending && s < restartedAt);
      expect(missed).to.deep.equal([pending]);
      expect(sorted[sorted.indexOf(pending) + 1]).to.be.greaterThan(restartedAt);
      // Each is an ordinary task that ran.
      const last = sorted[sorted.length - 1] as number;
      const result = await new GridClient(a.url).call(
        'GET',
        `/result/${slots.get(last)}?wait=10000`,
      );
      expect(result.body).to.include({ status: 'COMPLETED', result: '1' });
    } finally {
      await redis.close();
    }
  });
});
