/**
 * push and pull modes with real processes: a server and `taskgrid worker`s
 * spawned from the CLI, talking over WebSocket, on a private Redis.
 */

import { expect } from 'chai';
import WebSocket from 'ws';
import { TaskGrid } from '../index.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import {
  killAll,
  type ServerProcess,
  type Spawned,
  startServer,
  startWorker,
  stop,
} from './helpers/processes.js';
import { redisFlags } from './helpers/root-hooks.js';

const SLEEP_5MS =
  'async function sleepy(n) { await new Promise(r => setTimeout(r, 5)); return n * 2 }';

interface WorkerRow {
  id: string;
  threads: number;
  completed: number;
  in_flight: number;
}

function closeCodeOf(url: string, hello: Record<string, unknown>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(JSON.stringify(hello)));
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  });
}

for (const mode of ['push', 'pull'] as const) {
  describe(`${mode} mode with worker processes`, function () {
    this.timeout(120_000);
    let server: ServerProcess;
    let grid: GridClient;

    beforeEach(async () => {
      server = await startServer(['--mode', mode, ...redisFlags()]);
      grid = new GridClient(server.url);
    });
    afterEach(killAll);

    async function workers(): Promise<WorkerRow[]> {
      return (await grid.call<WorkerRow[]>('GET', '/workers')).body;
    }

    it('two workers run 3,000 tasks of a 5 ms async function, all correct, and both are listed', async () => {
      await startWorker(server.wsUrl, ['--threads', '2']);
      await startWorker(server.wsUrl, ['--threads', '2']);
      expect(await workers()).to.have.length(2);
      const fn = await grid.register(SLEEP_5MS);
      const args = Array.from({ length: 3000 }, (_, i) => [i]);
      const ids = (
        await Promise.all(
          [0, 1, 2].map((k) => grid.batch(fn, args.slice(k * 1000, (k + 1) * 1000))),
        )
      ).flat();
      const bodies = await grid.waitAll(ids);
      expect(bodies.every((b) => b.status === 'COMPLETED')).to.equal(true);
      expect(bodies.map((b) => deserialize(b.result as string))).to.deep.equal(
        args.map(([i]) => 2 * (i as number)),
      );
      const rows = await workers();
      expect(rows).to.have.length(2);
      for (const row of rows) {
        expect(row.threads).to.equal(2);
        expect(row.completed, 'each worker shares the load').to.be.greaterThan(300);
      }
      expect(rows.reduce((n, r) => n + r.completed, 0)).to.equal(3000);
    });

    it('5,000 quick tasks come back correct', async () => {
      await startWorker(server.wsUrl, ['--threads', '2']);
      const fn = await grid.register('function double(n) { return n * 2 }');
      const args = Array.from({ length: 5000 }, (_, i) => [i]);
      const ids: string[] = [];
      for (let k = 0; k < 5; k++)
        ids.push(...(await grid.batch(fn, args.slice(k * 1000, (k + 1) * 1000))));
      const bodies = await grid.waitAll(ids, 128);
      expect(bodies.map((b) => deserialize(b.result as string))).to.deep.equal(
        args.map(([i]) => 2 * (i as number)),
      );
    });

    it('runs large arguments and results exactly, as binary frames both ways, through the SDK', async () => {
      await startWorker(server.wsUrl, ['--threads', '2']);
      const sdk = new TaskGrid({ url: server.url });
      try {
        const echo = await sdk.register((s: string, n: number) => `${s}${n}`);
        // Around the large-argument bound (8 KiB of UTF-8) and far past it, multi-byte and escaped.
        const piece = 'é"\\\n😀';
        const args = [1_000, 1_400, 2_000, 20_000, 60_000].map((n, i): [string, number] => [
          piece.repeat(n),
          i,
        ]);
        const out: string[] = [];
        for await (const v of echo.map(args, { batchSize: 2 })) out.push(v);
        expect(out).to.deep.equal(args.map(([s, n]) => `${s}${n}`));
        expect(await echo(piece.repeat(30_000), 7)).to.equal(`${piece.repeat(30_000)}7`);
      } finally {
        sdk.close();
      }
    });

    it('passes the REST contract: results, failures, cancel', async () => {
      await startWorker(server.wsUrl, ['--threads', '2']);
      const double = await grid.register('function double(n) { return n * 2 }');
      expect(await grid.value(await grid.submit(double, [21]))).to.equal(42);
      const boom = await grid.register('function boom() { throw new TypeError("bad") }');
      const failed = await grid.wait(await grid.submit(boom, []));
      expect(failed.status).to.equal('FAILED');
      expect(deserialize(failed.result as string)).to.include({
        name: 'TypeError',
        message: 'bad',
      });
      const spin = await grid.register('function spin() { for (;;) {} }');
      const timedOut = await grid.wait(await grid.submit(spin, [], 300));
      expect(deserialize(timedOut.result as string)).to.include({ name: 'TimeoutError' });
      const slow = await grid.register(
        'async () => { await new Promise(r => setTimeout(r, 5000)); return 1 }',
      );
      const running = await grid.submit(slow, []);
      for (
        let i = 0;
        i < 200 && (await grid.call('GET', `/status/${running}`)).body.status !== 'RUNNING';
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect((await grid.call('DELETE', `/task/${running}`)).status).to.equal(200);
      expect((await grid.call('DELETE', `/task/${running}`)).status).to.equal(409);
      // The cancel ended the task on the worker: its thread is free for the next one.
      expect(await grid.value(await grid.submit(double, [1]))).to.equal(2);
    });

    it('mixes fast and slow tasks without losing any', async () => {
      await startWorker(server.wsUrl, ['--threads', '2']);
      await startWorker(server.wsUrl, ['--threads', '2']);
      const fn = await grid.register(
        'async function mixed(n) { if (n % 10 === 0) await new Promise(r => setTimeout(r, 100)); return n }',
      );
      const args = Array.from({ length: 400 }, (_, i) => [i]);
      const bodies = await grid.waitAll(await grid.batch(fn, args));
      expect(bodies.map((b) => deserialize(b.result as string))).to.deep.equal(
        args.map(([i]) => i),
      );
    });

    it('gives work to a worker that joins mid-run', async () => {
      await startWorker(server.wsUrl, ['--threads', '1']);
      const fn = await grid.register(
        'async function slow(n) { await new Promise(r => setTimeout(r, 20)); return n }',
      );
      const ids = await grid.batch(
        fn,
        Array.from({ length: 300 }, (_, i) => [i]),
      );
      await new Promise((r) => setTimeout(r, 300));
      await startWorker(server.wsUrl, ['--threads', '2']);
      const bodies = await grid.waitAll(ids);
      expect(bodies.every((b) => b.status === 'COMPLETED')).to.equal(true);
      const rows = await workers();
      expect(rows).to.have.length(2);
      const late = rows.find((r) => r.threads === 2);
      expect(late?.completed, 'the late worker took tasks').to.be.greaterThan(0);
    });

    it('hands the tasks of a worker that dies to another', async () => {
      const doomed: Spawned = await startWorker(server.wsUrl, ['--threads', '2']);
      const fn = await grid.register(
        'async function slow(n) { await new Promise(r => setTimeout(r, 10)); return n }',
      );
      const ids = await grid.batch(
        fn,
        Array.from({ length: 500 }, (_, i) => [i]),
      );
      await new Promise((r) => setTimeout(r, 300));
      doomed.child.kill('SIGKILL');
      await doomed.exited;
      await startWorker(server.wsUrl, ['--threads', '2']);
      const bodies = await grid.waitAll(ids);
      expect(bodies.map((b) => b.status).every((s) => s === 'COMPLETED')).to.equal(true);
      expect(bodies.map((b) => deserialize(b.result as string))).to.deep.equal(
        ids.map((_, i) => i),
      );
    });

    it('refuses a wrong protocol version with close code 4406, and junk with 4400', async () => {
      expect(
        await closeCodeOf(server.wsUrl, {
          type: 'hello',
          version: PROTOCOL_VERSION + 99,
          threads: 1,
        }),
      ).to.equal(4406);
      expect(await closeCodeOf(server.wsUrl, { type: 'results', results: [] })).to.equal(4400);
      expect(await closeCodeOf(server.wsUrl, { nonsense: true })).to.equal(4400);
      expect(await workers()).to.have.length(0);
    });

    it('a draining worker finishes what it holds and exits 0', async () => {
      const worker = await startWorker(server.wsUrl, ['--threads', '2']);
      const fn = await grid.register(
        'async function slow(n) { await new Promise(r => setTimeout(r, 200)); return n }',
      );
      const ids = await grid.batch(
        fn,
        Array.from({ length: 4 }, (_, i) => [i]),
      );
      await new Promise((r) => setTimeout(r, 100));
      expect(await stop(worker)).to.equal(0);
      const finished = await Promise.all(ids.map((id) => grid.call('GET', `/status/${id}`)));
      const completed = finished.filter((r) => r.body.status === 'COMPLETED').length;
      expect(completed).to.be.greaterThan(0);
      await startWorker(server.wsUrl, ['--threads', '2']);
      const bodies = await grid.waitAll(ids);
      expect(bodies.every((b) => b.status === 'COMPLETED')).to.equal(true);
    });
  });
}
