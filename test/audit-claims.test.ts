/**
 * Audit regression (issue 11, defect 2): a store read that fails right after
 * a claim (the function's source) must not leave the claimed tasks RUNNING
 * forever. The claim is released without counting an attempt, so with
 * maxAttempts 1 every task submitted while reads failed still completes.
 */

import { expect } from 'chai';
import { pino } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { GridServer } from '../server/grid-server.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { deserialize } from '../shared/serialize.js';
import { flakyFunctions } from './helpers/flaky-store.js';
import { GridClient } from './helpers/grid-client.js';
import { testConfig } from './helpers/in-process.js';
import { killAll, startWorker } from './helpers/processes.js';
import { sleep } from './helpers/wait.js';

/** Submits with retries on 503 (a submit answered 503 is not a task). */
async function submitBatch(grid: GridClient, fn: string, args: number[]): Promise<string[]> {
  for (let tries = 0; ; tries++) {
    const reply = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
      function_id: fn,
      payloads: args.map((n) => JSON.stringify([n])),
    });
    if (reply.status === 201) return reply.body.task_ids;
    if (reply.status !== 503 || tries > 20) throw new Error(`submit: ${JSON.stringify(reply)}`);
    await sleep(100);
  }
}

describe('audit: a failed function read after a claim (defect 2)', function () {
  this.timeout(40_000);
  let server: GridServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await killAll();
  });

  for (const mode of ['local', 'push'] as const) {
    it(`${mode}: tasks claimed while the function read fails for 1 s all complete, with maxAttempts 1`, async () => {
      const inner = new MemoryStore();
      // Registered in the store, not through this server, so its function cache starts empty.
      const fn = uuidv4();
      await inner.registerFunction({
        id: fn,
        name: 'triple',
        source: '(n) => n * 3',
        created_at: 0,
      });
      const flaky = flakyFunctions(inner, 1, 1000);
      const config = testConfig('memory', { mode, maxAttempts: 1, leaseMs: 3000 });
      server = await GridServer.start(config, {
        store: flaky.store,
        log: pino({ level: 'silent' }),
      });
      if (mode === 'push') {
        await startWorker(`${server.url.replace(/^http/, 'ws')}/ws`, ['--threads', '2']);
      }
      const grid = new GridClient(server.url);
      const ids: string[] = [];
      const args: number[] = [];
      for (let round = 0; round < 4; round++) {
        const batch = Array.from({ length: 5 }, (_, i) => round * 5 + i);
        ids.push(...(await submitBatch(grid, fn, batch)));
        args.push(...batch);
        await sleep(200);
      }
      expect(flaky.calls.refused, 'function reads refused').to.be.greaterThan(0);
      const bodies = await Promise.all(ids.map((id) => grid.wait(id, 15_000)));
      const wrong = bodies.filter(
        (b, i) =>
          b.status !== 'COMPLETED' || deserialize(b.result as string) !== 3 * (args[i] ?? 0),
      );
      const byStatus: Record<string, number> = {};
      for (const b of wrong) byStatus[b.status] = (byStatus[b.status] ?? 0) + 1;
      expect(byStatus, `of ${ids.length} tasks, these did not complete right`).to.deep.equal({});
    });
  }
});
