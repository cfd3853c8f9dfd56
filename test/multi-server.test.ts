/**
 * Two servers on one Redis and one prefix: a task submitted to the server
 * with no workers is run by the other one's worker, and a long-poll on the
 * first wakes when the second stores the result (events through Redis).
 */

import { expect } from 'chai';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import { killAll, startServer, startWorker } from './helpers/processes.js';
import { redisFlags, uniquePrefix } from './helpers/root-hooks.js';

describe('several servers on one Redis', function () {
  this.timeout(60_000);
  afterEach(killAll);

  for (const mode of ['push', 'pull'] as const) {
    it(`${mode}: a task submitted to one server runs on the other's worker and wakes the first's long-poll`, async () => {
      const prefix = uniquePrefix();
      const a = await startServer(['--mode', mode, ...redisFlags(prefix)]);
      const b = await startServer(['--mode', mode, ...redisFlags(prefix)]);
      await startWorker(a.wsUrl, ['--threads', '2']);
      const viaB = new GridClient(b.url);
      const fn = await viaB.register(
        'async (n) => { await new Promise(r => setTimeout(r, 20)); return n * 3 }',
      );
      const ids = await viaB.batch(
        fn,
        Array.from({ length: 50 }, (_, i) => [i]),
      );
      const bodies = await viaB.waitAll(ids);
      expect(bodies.map((x) => deserialize(x.result as string))).to.deep.equal(
        ids.map((_, i) => 3 * i),
      );
      const workersOnA = (
        await new GridClient(a.url).call<{ completed: number }[]>('GET', '/workers')
      ).body;
      expect(workersOnA[0]?.completed).to.equal(50);
      expect((await viaB.call<unknown[]>('GET', '/workers')).body).to.deep.equal([]);
    });
  }
});
