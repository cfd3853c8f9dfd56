/**
 * Audit regression (issue 11, defect 3), with real processes on the test
 * Redis: a tasks frame must fit the worker's frame limit, however many
 * large-argument tasks the worker has credit for.
 */

import { expect } from 'chai';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import { wrongOnes } from './helpers/outcomes.js';
import { startServer, startWorker } from './helpers/processes.js';
import { redisFaultHooks } from './helpers/redis-admin.js';
import { redisFlags } from './helpers/root-hooks.js';

describe('audit: tasks frames fit the worker (defect 3)', function () {
  this.timeout(60_000);
  // 81 MB of arguments (frames) should not outlive a test: each one's keys are dropped.
  const suite = redisFaultHooks();

  for (const mode of ['push', 'pull'] as const) {
    it(`defect 3 (${mode}): 81 tasks with ~1 MB arguments, queued before a 4-thread worker joins, all complete`, async () => {
      const server = await startServer(['--mode', mode, ...redisFlags(suite.prefix)]);
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
});
