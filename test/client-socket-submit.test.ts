/**
 * `submit` on `/ws/client`: a call from submit to result on one socket.
 * The protocol against a real server process, then the SDK's use of it:
 * on the socket by default, retried with the same key when the socket
 * closes under it or the server answers 503, and by REST when the server
 * takes smaller frames.
 */

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { RemoteTaskError, TaskGrid, TaskGridHttpError } from '../client/task-grid.js';
import { defaultConfig } from '../server/server-config.js';
import { ClientSocket, type Frame } from './helpers/client-socket.js';
import { GridClient } from './helpers/grid-client.js';
import { withSdkGrid } from './helpers/in-process.js';
import { spyOnPosts } from './helpers/post-spy.js';
import { killAll, type ServerProcess, startServer } from './helpers/processes.js';
import { redisFlags } from './helpers/root-hooks.js';

describe('submit on /ws/client', function () {
  this.timeout(30_000);

  describe('the protocol, against a server process', () => {
    let server: ServerProcess;
    let fn: string;
    before(async () => {
      server = await startServer(['--mode', 'local', '--threads', '2', ...redisFlags()]);
      fn = await new GridClient(server.url).register('function triple(n) { return n * 3 }');
    });
    after(killAll);

    it('answers `submitted` with the task id for the ref, then the result on the same socket', async () => {
      const socket = await new ClientSocket(server.url).open();
      try {
        socket.send({ type: 'submit', ref: 'a1', function_id: fn, payload: '[14]' });
        const submitted = await socket.next();
        expect(submitted).to.have.keys(['type', 'ref', 'task_id']);
        expect(submitted).to.include({ type: 'submitted', ref: 'a1' });
        expect(submitted.task_id).to.match(/^[0-9a-f-]{36}$/);
        const result = await socket.next();
        expect(result).to.deep.equal({
          type: 'result',
          task_id: submitted.task_id,
          status: 'COMPLETED',
          result: '42',
        });
      } finally {
        socket.ws.close();
      }
    });

    it('refuses an unknown function or a bad payload for that ref, and the socket serves on', async () => {
      const socket = await new ClientSocket(server.url).open();
      try {
        socket.send({ type: 'submit', ref: 'x', function_id: randomUUID(), payload: '[1]' });
        expect(await socket.next()).to.include({
          type: 'refused',
          ref: 'x',
          code: 'TG_NOT_FOUND',
        });
        socket.send({ type: 'submit', ref: 'y', function_id: fn, payload: '{"n":1}' });
        const refused = await socket.next();
        expect(refused).to.include({ type: 'refused', ref: 'y', code: 'TG_BAD_PAYLOAD' });
        expect(refused.message).to.be.a('string').and.not.equal('');
        socket.send({ type: 'submit', ref: 'z', function_id: fn, payload: '[2]' });
        expect(await socket.next()).to.include({ type: 'submitted', ref: 'z' });
        expect(await socket.next()).to.include({ type: 'result', result: '6' });
      } finally {
        socket.ws.close();
      }
    });

    it('closes with 4400 on a malformed submit', async () => {
      const malformed = [
        { type: 'submit', function_id: fn, payload: '[1]' },
        { type: 'submit', ref: '', function_id: fn, payload: '[1]' },
        { type: 'submit', ref: 'r'.repeat(65), function_id: fn, payload: '[1]' },
        { type: 'submit', ref: 'r', function_id: fn, payload: [1] },
        { type: 'submit', ref: 'r', function_id: fn, payload: '[1]', timeout_ms: -1 },
        { type: 'submit', ref: 'r', function_id: fn, payload: '[1]', idempotency_key: '' },
      ];
      for (const frame of malformed) {
        const socket = await new ClientSocket(server.url).open();
        socket.send(frame);
        const { code } = await socket.closed;
        expect(code, JSON.stringify(frame)).to.equal(4400);
      }
    });

    it('an idempotent resubmit gives the same id, and the result again', async () => {
      const key = randomUUID();
      const socket = await new ClientSocket(server.url).open();
      try {
        const submit = (ref: string) =>
          socket.send({
            type: 'submit',
            ref,
            function_id: fn,
            payload: '[5]',
            idempotency_key: key,
          });
        submit('first');
        const first = await socket.next();
        expect(await socket.next()).to.include({ type: 'result', result: '15' });
        submit('again');
        const again = await socket.next();
        expect(again).to.deep.equal({ type: 'submitted', ref: 'again', task_id: first.task_id });
        // Finished already: the subscription reads it and sends it at once.
        expect(await socket.next()).to.deep.equal({
          type: 'result',
          task_id: first.task_id,
          status: 'COMPLETED',
          result: '15',
        });
      } finally {
        socket.ws.close();
      }
    });
  });

  describe('the SDK', () => {
    it('`await fn(x)` submits on the socket, not by REST', async () => {
      const { posts, restore } = spyOnPosts();
      try {
        await withSdkGrid({}, async (grid) => {
          const double = await grid.register((n: number) => n * 2);
          posts.length = 0;
          expect(await double(21)).to.equal(42);
          const handle = await double.submit([4]);
          expect(await handle.result()).to.equal(8);
          expect(await handle.status()).to.equal('COMPLETED');
          expect(posts).to.deep.equal([]);
        });
      } finally {
        restore();
      }
    });

    it('throws TaskGridHttpError with the status of the refusal (404 for an unknown function)', async () => {
      await withSdkGrid({}, async (grid) => {
        const error = await grid
          .function(randomUUID())()
          .catch((e: unknown) => e);
        expect(error).to.be.instanceOf(TaskGridHttpError);
        expect(error).to.include({ status: 404, code: 'TG_NOT_FOUND' });
      });
    });

    it('sends a submit too large for the server’s client frames by REST', async () => {
      const limits = { ...defaultConfig().limits, frameBytes: 4096 };
      await withSdkGrid({ limits }, async (grid) => {
        const length = await grid.register((s: string) => s.length);
        expect(await length('x'.repeat(10_000))).to.equal(10_000);
        expect(await length('small')).to.equal(5);
      });
    });

    describe('against a scripted server', () => {
      let wss: WebSocketServer;
      afterEach(async () => {
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      });

      /** A /ws/client server that answers the nth submit it sees with `script(n, frame, ws)`. */
      async function scripted(
        script: (n: number, frame: Frame, ws: WebSocket) => void,
      ): Promise<string> {
        let n = 0;
        wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws/client' });
        wss.on('connection', (ws) =>
          ws.on('message', (data) => {
            const frame = JSON.parse(String(data)) as Frame;
            if (frame.type === 'submit') script(n++, frame, ws);
          }),
        );
        await new Promise((resolve) => wss.once('listening', resolve));
        return `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
      }

      const answer = (ws: WebSocket, frame: Frame, taskId: string) => {
        ws.send(JSON.stringify({ type: 'submitted', ref: frame.ref, task_id: taskId }));
        ws.send(
          JSON.stringify({ type: 'result', task_id: taskId, status: 'COMPLETED', result: '7' }),
        );
      };

      it('retries with the same key when the socket closes before the answer, and on 503', async () => {
        const seen: Frame[] = [];
        const url = await scripted((n, frame, ws) => {
          seen.push(frame);
          if (n === 0) ws.close(1011, 'gone');
          else if (n === 1) {
            ws.send(
              JSON.stringify({
                type: 'refused',
                ref: frame.ref,
                code: 'TG_UNAVAILABLE',
                message: 'store away',
              }),
            );
          } else answer(ws, frame, 'task-7');
        });
        const grid = new TaskGrid({ url });
        try {
          expect(await grid.function(randomUUID())(1)).to.equal(7);
          expect(seen).to.have.length(3);
          const keys = new Set(seen.map((f) => f.idempotency_key));
          expect(keys.size, JSON.stringify(seen)).to.equal(1);
          expect([...keys][0]).to.be.a('string');
        } finally {
          grid.close();
        }
      });

      it('takes a result that comes right behind the `submitted` answer (FAILED: RemoteTaskError)', async () => {
        const url = await scripted((_n, frame, ws) => {
          const taskId = `t-${String(frame.ref)}`;
          // Back to back: both frames usually reach the SDK in one chunk, read in one turn.
          ws.send(JSON.stringify({ type: 'submitted', ref: frame.ref, task_id: taskId }));
          ws.send(
            JSON.stringify({
              type: 'result',
              task_id: taskId,
              status: 'FAILED',
              result: '{"name":"E","message":"m"}',
            }),
          );
        });
        const grid = new TaskGrid({ url });
        try {
          const error = await grid
            .function(randomUUID())()
            .catch((e: unknown) => e);
          expect(error).to.be.instanceOf(RemoteTaskError);
          expect(error).to.include({ name: 'E', message: 'm' });
        } finally {
          grid.close();
        }
      });
    });
  });
});
