/** Tokens on REST and on the worker handshake; the loopback default. */

import { expect } from 'chai';
import WebSocket from 'ws';
import type { GridServer } from '../server/grid-server.js';
import { defaultConfig } from '../server/server-config.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, runCli, startServer, startWorker } from './helpers/processes.js';

describe('security', () => {
  describe('REST with a token', () => {
    let server: GridServer;
    before(async () => {
      server = await startInProcess('memory', { token: 'open-sesame' });
    });
    after(async () => {
      await server.close();
    });

    it('401 without the token or with a wrong one, on every route but /healthz', async () => {
      for (const grid of [new GridClient(server.url), new GridClient(server.url, 'wrong')]) {
        for (const [method, path] of [
          ['POST', '/register_function'],
          ['POST', '/execute_function'],
          ['POST', '/execute_batch'],
          ['GET', '/status/00000000-0000-4000-8000-000000000000'],
          ['GET', '/result/00000000-0000-4000-8000-000000000000'],
          ['DELETE', '/task/00000000-0000-4000-8000-000000000000'],
          ['GET', '/workers'],
        ] as const) {
          const reply = await grid.call(method, path, method === 'POST' ? {} : undefined);
          expect(reply.status, `${method} ${path}`).to.equal(401);
        }
        expect((await grid.call('GET', '/healthz')).status).to.equal(200);
      }
    });

    it('answers a 30 MB body with 413', async () => {
      const grid = new GridClient(server.url, 'open-sesame');
      const reply = await grid.call('POST', '/execute_batch', {
        function_id: '00000000-0000-4000-8000-000000000000',
        payloads: ['x'.repeat(30 * 1024 * 1024)],
      });
      expect(reply.status).to.equal(413);
    });

    it('serves the right token', async () => {
      const grid = new GridClient(server.url, 'open-sesame');
      const fn = await grid.register('n => n + 1');
      expect(await grid.value(await grid.submit(fn, [1]))).to.equal(2);
    });
  });

  describe('limits', () => {
    let server: GridServer;
    let grid: GridClient;
    before(async () => {
      const limits = {
        ...defaultConfig().limits,
        resultBytes: 1000,
        frameBytes: 4096,
        parkedPolls: 2,
        argsBytes: 100,
      };
      server = await startInProcess('memory', { mode: 'push', limits });
      grid = new GridClient(server.url);
    });
    after(async () => {
      await server.close();
    });

    it('fails a task whose result is over the limit with ResultTooLargeError', async () => {
      const local = await startInProcess('memory', {
        limits: { ...defaultConfig().limits, resultBytes: 1000 },
      });
      try {
        const g = new GridClient(local.url);
        const fn = await g.register('n => "x".repeat(n)');
        expect(await g.value(await g.submit(fn, [10]))).to.equal('xxxxxxxxxx');
        const body = await g.wait(await g.submit(fn, [5000]));
        expect(body.status).to.equal('FAILED');
        expect(JSON.parse(body.result as string)).to.include({ name: 'ResultTooLargeError' });
      } finally {
        await local.close();
      }
    });

    it('holds the result limit for results that come from a worker process', async () => {
      const remote = await startInProcess('memory', {
        mode: 'push',
        limits: { ...defaultConfig().limits, resultBytes: 1000 },
      });
      try {
        await startWorker(`${remote.url.replace('http', 'ws')}/ws`, ['--threads', '1']);
        const g = new GridClient(remote.url);
        const fn = await g.register('n => "x".repeat(n)');
        const body = await g.wait(await g.submit(fn, [5000]));
        expect(body.status).to.equal('FAILED');
        expect(JSON.parse(body.result as string)).to.include({ name: 'ResultTooLargeError' });
      } finally {
        await killAll();
        await remote.close();
      }
    });

    it('answers an argument payload over the limit with 413', async () => {
      const fn = await grid.register('n => n');
      const reply = await grid.call('POST', '/execute_function', {
        function_id: fn,
        payload: JSON.stringify(['y'.repeat(200)]),
      });
      expect(reply.status).to.equal(413);
    });

    it('answers long-polls past the parked limit with 429', async () => {
      const fn = await grid.register('n => n');
      // No worker: these stay QUEUED, so each long-poll parks.
      const ids = await grid.batch(fn, [[1], [2], [3]]);
      const parked = ids.slice(0, 2).map((id) => grid.call('GET', `/result/${id}?wait=1500`));
      await new Promise((r) => setTimeout(r, 200));
      expect((await grid.call('GET', `/result/${ids[2]}?wait=1500`)).status).to.equal(429);
      for (const reply of await Promise.all(parked)) expect(reply.status).to.equal(200);
    });

    it('closes a worker socket that sends a frame over the limit with 1009', async () => {
      const code = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
        ws.on('open', () => ws.send('x'.repeat(10_000)));
        ws.on('close', (c) => resolve(c));
        ws.on('error', () => {});
      });
      expect(code).to.equal(1009);
    });
  });

  describe('worker handshake with a token', () => {
    afterEach(killAll);

    it('a worker with a wrong token is refused (4401) and never gets a task; the right one runs them', async () => {
      const server = await startServer(['--mode', 'push', '--store', 'memory', '--token', 'tok']);
      const grid = new GridClient(server.url, 'tok');
      const fn = await grid.register('n => n * 2');
      const id = await grid.submit(fn, [5]);
      const wrong = runCli(['worker', '--url', server.wsUrl, '--token', 'nope']);
      expect(await wrong.exited).to.equal(2);
      expect(wrong.output()).to.match(/4401/);
      expect((await grid.call('GET', `/status/${id}`)).body.status).to.equal('QUEUED');
      await startWorker(server.wsUrl, ['--threads', '1'], { TASKGRID_TOKEN: 'tok' });
      expect(await grid.value(id)).to.equal(10);
    });
  });
});
