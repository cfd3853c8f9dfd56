/** The typed client SDK, results over /ws/client, OpenAPI and metrics. */

import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { RemoteTaskError, TaskGrid } from '../client/task-grid.js';
import type { GridServer } from '../server/grid-server.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, startServer, startWorker } from './helpers/processes.js';
import { redisFlags } from './helpers/root-hooks.js';

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

async function mapFib(grid: TaskGrid): Promise<void> {
  const remote = await grid.register(function fib(n: number): number {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
  });
  const inputs = Array.from({ length: 1000 }, (_, i) => [i % 20] as [number]);
  const out: number[] = [];
  let progress = 0;
  for await (const value of remote.map(inputs, { onProgress: (done) => (progress = done) })) {
    out.push(value);
  }
  expect(out).to.deep.equal(inputs.map(([n]) => fib(n)));
  expect(progress).to.equal(1000);
}

describe('client SDK', function () {
  this.timeout(60_000);

  describe('local mode', () => {
    let server: GridServer;
    let grid: TaskGrid;
    before(async () => {
      server = await startInProcess('redis');
      grid = new TaskGrid({ url: server.url });
    });
    after(async () => {
      grid.close();
      await server.close();
    });

    it('registers fib and maps it over 1,000 inputs, every result in order', async () => {
      await mapFib(grid);
    });

    it('calls a function in one line, and submits with a handle', async () => {
      const add = await grid.register((a: number, b: number) => a + b);
      expect(await add(2, 3)).to.equal(5);
      const handle = await add.submit([4, 5]);
      expect(handle.id).to.match(/^[0-9a-f-]{36}$/);
      expect(await handle.result()).to.equal(9);
      expect(await handle.status()).to.equal('COMPLETED');
    });

    it('surfaces a failed task as an error with the remote name, message and stack', async () => {
      const boom = await grid.register(function boom(what: string): never {
        throw new RangeError(`bad ${what}`);
      });
      let caught: unknown;
      await boom('input').catch((e: unknown) => {
        caught = e;
      });
      expect(caught).to.be.instanceOf(RemoteTaskError);
      const error = caught as RemoteTaskError;
      expect(error.name).to.equal('RangeError');
      expect(error.message).to.equal('bad input');
      expect(error.remoteStack).to.match(/RangeError: bad input/);
    });

    it('cancels through a handle', async () => {
      const slow = await grid.register(async () => new Promise((r) => setTimeout(r, 5000)));
      const handles = await Promise.all(Array.from({ length: 60 }, () => slow.submit([])));
      const last = handles[handles.length - 1];
      expect(await last?.cancel()).to.equal('CANCELLED');
      let caught: unknown;
      await last?.result().catch((e: unknown) => {
        caught = e;
      });
      expect((caught as Error).name).to.equal('CancelledError');
      for (const h of handles) await h.cancel().catch(() => {});
    });

    it('serves an OpenAPI 3 document that validates and lists every route', async () => {
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      const validator = new Validator();
      const result = await validator.validate(doc);
      expect(result.errors ?? []).to.deep.equal([]);
      expect(result.valid).to.equal(true);
      expect(doc.openapi).to.match(/^3\./);
      expect(Object.keys(doc.paths)).to.include.members([
        '/register_function',
        '/execute_function',
        '/execute_batch',
        '/status/{task_id}',
        '/result/{task_id}',
        '/task/{task_id}',
        '/task/{task_id}/retry',
        '/tasks',
        '/functions',
        '/function/{function_id}',
        '/workers',
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/',
      ]);
    });
  });

  describe('/metrics', () => {
    it('counts exactly the tasks run', async () => {
      const server = await startInProcess('memory');
      const grid = new TaskGrid({ url: server.url });
      try {
        const ok = await grid.register((n: number) => n);
        const bad = await grid.register(() => {
          throw new Error('no');
        });
        for await (const _ of ok.map(Array.from({ length: 10 }, (_, i) => [i] as [number]))) {
          // drain
        }
        for (let i = 0; i < 3; i++) await bad().catch(() => {});
        const slow = await grid.register(async () => new Promise((r) => setTimeout(r, 5000)));
        const queued = await Promise.all(Array.from({ length: 60 }, () => slow.submit([])));
        await queued[59]?.cancel();
        const text = await (await fetch(`${server.url}/metrics`)).text();
        const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
        expect(value('taskgrid_tasks_submitted_total')).to.equal(73);
        expect(value('taskgrid_tasks_finished_total\\{status="COMPLETED"\\}')).to.equal(10);
        expect(value('taskgrid_tasks_finished_total\\{status="FAILED"\\}')).to.equal(3);
        expect(value('taskgrid_tasks_finished_total\\{status="CANCELLED"\\}')).to.equal(1);
        expect(value('taskgrid_workers_connected')).to.equal(1);
        expect(value('taskgrid_task_end_to_end_seconds_count')).to.equal(13);
        expect(text).to.match(/^taskgrid_queue_depth \d+$/m);
        expect(text).to.match(/^taskgrid_worker_in_flight\{worker="local"\} \d+$/m);
        for (const h of queued) await h.cancel().catch(() => {});
      } finally {
        grid.close();
        await server.close();
      }
    });
  });

  for (const mode of ['push', 'pull'] as const) {
    describe(`${mode} mode`, () => {
      afterEach(killAll);
      it('maps fib over 1,000 inputs with every result in order', async () => {
        const server = await startServer(['--mode', mode, ...redisFlags()]);
        await startWorker(server.wsUrl, ['--threads', '2']);
        const grid = new TaskGrid({ url: server.url });
        try {
          await mapFib(grid);
        } finally {
          grid.close();
        }
      });
    });
  }
});
