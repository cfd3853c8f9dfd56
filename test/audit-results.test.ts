/**
 * Audit regressions (issue 11) on results, with real processes on Redis:
 * the outcome writer must survive one bad result from a worker and many
 * large ones (defect 4), and FAILED results the server makes must not show
 * its own file paths (suspected).
 */

import { dirname } from 'node:path';
import { expect } from 'chai';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import { type Body, wrongOnes } from './helpers/outcomes.js';
import { CLI, killAll, startServer, startWorker } from './helpers/processes.js';
import { redisFaultHooks } from './helpers/redis-admin.js';
import { TestRedis } from './helpers/redis-server.js';
import { RogueWorker } from './helpers/rogue-worker.js';
import { redisFlags } from './helpers/root-hooks.js';
import { sleep, until } from './helpers/wait.js';

describe('audit: results', function () {
  this.timeout(60_000);
  const suite = redisFaultHooks();

  it('defect 4: a result holding a lone surrogate fails only its own task; 50 later tasks complete', async () => {
    const server = await startServer([
      '--mode',
      'push',
      ...redisFlags(suite.prefix),
      '--lease',
      '3000',
    ]);
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
      // Prefetch 17 per thread: the worker takes all 66 before Redis stops.
      const server = await startServer([
        '--mode',
        'push',
        '--prefetch',
        '17',
        '--redis',
        redis.url,
      ]);
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
      // A terminal status is final: each task is read until it is, not all 66 in one sweep
      // (on a busy machine some read of every sweep may answer 503 "retry shortly").
      const ended = new Map<string, Body>();
      const terminal = (b: Body) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(b.status);
      const statuses = await until(
        async () => {
          for (const id of ids) {
            if (ended.has(id)) continue;
            const body = (await grid.call<Body>('GET', `/status/${id}`)).body;
            if (terminal(body)) ended.set(id, body);
          }
          return ids.map((id) => ended.get(id) ?? { status: 'not yet terminal' });
        },
        (all) => all.every(terminal),
        // Storing 528 MB is slow on a busy machine, and reads meanwhile may answer 503
        // "retry shortly": a bound, not a speed claim.
        120_000,
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
  }).timeout(240_000);

  it('suspected: a TimeoutError the grid makes carries no file path of the server install', async () => {
    const server = await startServer([
      '--mode',
      'local',
      '--threads',
      '1',
      ...redisFlags(suite.prefix),
    ]);
    const grid = new GridClient(server.url);
    const fn = await grid.register('async () => { await new Promise(r => setTimeout(r, 5000)) }');
    const body = await grid.wait(await grid.submit(fn, [], 200), 15_000);
    expect(body.status).to.equal('FAILED');
    expect((deserialize(body.result as string) as { name: string }).name).to.equal('TimeoutError');
    const install = dirname(dirname(CLI));
    expect(body.result, 'the FAILED result').to.not.include(install);
  });
});
