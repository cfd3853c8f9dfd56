/**
 * Audit regressions (issue 11) on frame and result sizes, with real
 * processes on the test Redis: tasks frames over the worker's frame limit
 * (defect 3), and the outcome writer poisoned by one bad result or by many
 * large ones (defect 4).
 */

import { expect } from 'chai';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import { killAll, startServer, startWorker } from './helpers/processes.js';
import { RedisAdmin } from './helpers/redis-admin.js';
import { TestRedis } from './helpers/redis-server.js';
import { RogueWorker } from './helpers/rogue-worker.js';
import { redisFlags, testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { sleep, until } from './helpers/wait.js';

type Body = { status: string; result?: string };

/** Counts of what went wrong, e.g. `{ FAILED: 80 }`, with one example each. */
function wrongOnes(bodies: Body[], right: (b: Body, i: number) => boolean) {
  const counts: Record<string, number> = {};
  const examples: Record<string, string | undefined> = {};
  bodies.forEach((b, i) => {
    if (right(b, i)) return;
    counts[b.status] = (counts[b.status] ?? 0) + 1;
    examples[b.status] ??= b.result?.slice(0, 200);
  });
  return { counts, examples };
}

describe('audit: frame and result sizes', function () {
  this.timeout(60_000);
  let admin: RedisAdmin;
  let prefix = '';
  before(async () => {
    admin = await RedisAdmin.connect(testRedis().url);
  });
  after(async () => {
    await admin.close();
  });
  beforeEach(() => {
    prefix = uniquePrefix();
  });
  afterEach(async () => {
    await killAll();
    // Hundreds of MB of arguments and results should not outlive the test.
    await admin.dropPrefix(prefix);
  });

  for (const mode of ['push', 'pull'] as const) {
    it(`defect 3 (${mode}): 81 tasks with ~1 MB arguments, queued before a 4-thread worker joins, all complete`, async () => {
      const server = await startServer(['--mode', mode, ...redisFlags(prefix)]);
      const grid = new GridClient(server.url);
      const fn = await grid.register('(s) => s.length');
      // JSON text `["xxx…"]` just under the 1 MiB argument limit; 9 per request fits the body limit.
      const big = 'x'.repeat(1_000_000);
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) ids.push(...(await grid.batch(fn, Array(9).fill([big]))));
      // Queued first: the worker's first claim takes as many as it has credit for.
      await startWorker(server.wsUrl, ['--threads', '4']);
      const bodies = await Promise.all(ids.map((id) => grid.wait(id, 40_000)));
      const wrong = wrongOnes(
        bodies,
        (b) => b.status === 'COMPLETED' && deserialize(b.result as string) === 1_000_000,
      );
      expect(wrong.counts, JSON.stringify(wrong.examples)).to.deep.equal({});
    });
  }

  it('defect 4: a result holding a lone surrogate fails only its own task; 50 later tasks complete', async () => {
    const server = await startServer(['--mode', 'push', ...redisFlags(prefix), '--lease', '3000']);
    const grid = new GridClient(server.url);
    const rogue = await RogueWorker.connect(server.wsUrl);
    const fn = await grid.register('(n) => n * 2');
    const poisoned = await grid.submit(fn, [0]);
    const [task] = await rogue.received(1);
    expect(task?.id).to.equal(poisoned);
    await rogue.sendResults([
      {
        id: poisoned,
        attempt: task?.attempt ?? 1,
        status: 'COMPLETED',
        // JSON text of a lone surrogate; the frame carries it escaped, as JSON allows.
        value: '"\ud800"',
        run_ms: 1,
      },
    ]);
    await rogue.close();
    await startWorker(server.wsUrl, ['--threads', '2']);
    const ids = await grid.batch(
      fn,
      Array.from({ length: 50 }, (_, i) => [i + 1]),
    );
    const bodies = await Promise.all(ids.map((id) => grid.wait(id, 30_000)));
    const wrong = wrongOnes(
      bodies,
      (b, i) => b.status === 'COMPLETED' && deserialize(b.result as string) === 2 * (i + 1),
    );
    expect(wrong.counts, JSON.stringify(wrong.examples)).to.deep.equal({});
    const first = await grid.wait(poisoned, 10_000);
    expect(
      ['COMPLETED', 'FAILED', 'CANCELLED'],
      `the poisoned task ended ${first.status}`,
    ).to.include(first.status);
  });

  it('defect 4: 66 results of ~8 MiB that piled up while Redis was down are all stored once it returns', async () => {
    // A private Redis (with an append-only file, so a restart keeps the tasks).
    const redis = await TestRedis.start(['--appendonly', 'yes', '--appendfsync', 'everysec']);
    try {
      const server = await startServer(['--mode', 'push', '--redis', redis.url]);
      const grid = new GridClient(server.url);
      await startWorker(server.wsUrl, ['--threads', '4']);
      // Just under the 8 MiB result limit; 66 of them are more than one JS string can hold.
      const fn = await grid.register(
        "async (at) => { while (Date.now() < at) await new Promise(r => setTimeout(r, 10)); return 'x'.repeat(8388600) }",
      );
      const at = Date.now() + 1500;
      const ids = await grid.batch(fn, Array(66).fill([at]));
      await sleep(Math.max(0, at - 500 - Date.now()));
      await redis.stop();
      // Every result reached the server (it counts them per worker) while Redis was away.
      const rows = await until(
        async () => (await grid.call<{ completed: number }[]>('GET', '/workers')).body,
        (r) => r[0]?.completed === 66,
        30_000,
        250,
      );
      expect(rows[0]?.completed, 'results the server took').to.equal(66);
      await redis.run();
      const statuses = await until(
        () =>
          Promise.all(ids.map(async (id) => (await grid.call<Body>('GET', `/status/${id}`)).body)),
        (all) => all.every((b) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(b.status)),
        30_000,
        500,
      );
      const wrong = wrongOnes(statuses, (b) => b.status === 'COMPLETED');
      expect(wrong.counts, JSON.stringify(statuses[0])).to.deep.equal({});
      const one = await grid.call<Body>('GET', `/result/${ids[0]}`);
      expect(one.body.result?.length).to.equal(8_388_602);
    } finally {
      await killAll();
      await redis.destroy();
    }
  });
});
