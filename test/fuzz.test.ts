/**
 * Property-based tests: random and malformed REST bodies, ids, headers and
 * socket frames thrown at a running server. It never crashes, never answers
 * 5xx, and never changes a task it should not.
 */

import { expect } from 'chai';
import fc from 'fast-check';
import WebSocket from 'ws';
import type { GridServer } from '../server/grid-server.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';

const RUNS = 150;
const OK_CODES = new Set([200, 201, 400, 401, 404, 409, 413, 422, 429]);

interface TestWorker {
  ws: WebSocket;
  /** Every frame received after the welcome, in order. */
  frames: unknown[];
  next(): Promise<unknown>;
}

function openWorker(url: string): Promise<TestWorker> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: unknown[] = [];
    let waiting: (() => void) | undefined;
    let welcomed = false;
    ws.once('error', reject);
    ws.on('message', (data) => {
      if (!welcomed) {
        welcomed = true;
        resolve({
          ws,
          frames,
          next: async () => {
            while (frames.length === 0) await new Promise<void>((r) => (waiting = r));
            return frames.shift();
          },
        });
        return;
      }
      frames.push(JSON.parse(data.toString()));
      waiting?.();
    });
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, threads: 1 }));
    });
  });
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve(1006);
    else ws.once('close', (code) => resolve(code));
  });
}

describe('fuzzing a running server', function () {
  this.timeout(120_000);

  describe('REST', () => {
    let server: GridServer;
    let grid: GridClient;
    let fnId: string;
    let keeper: string;

    before(async () => {
      server = await startInProcess('redis', { mode: 'push' });
      grid = new GridClient(server.url);
      fnId = await grid.register('n => n');
      // No worker is connected: this task must stay QUEUED whatever the fuzzer sends.
      keeper = await grid.submit(fnId, [1]);
    });
    after(async () => {
      await server.close();
    });

    it('answers random bodies on every POST route with a 4xx or a 201, never 5xx', async () => {
      const body = fc.oneof(
        fc.json(),
        fc.string(),
        fc.record({ name: fc.anything(), payload: fc.anything() }),
        fc.record({
          function_id: fc.oneof(fc.uuid(), fc.string(), fc.constant(fnId)),
          payload: fc.oneof(fc.string(), fc.json()),
        }),
        fc.record({
          function_id: fc.constant(fnId),
          payloads: fc.array(fc.oneof(fc.string(), fc.json()), { maxLength: 20 }),
        }),
      );
      const route = fc.constantFrom('/register_function', '/execute_function', '/execute_batch');
      await fc.assert(
        fc.asyncProperty(route, body, async (path, raw) => {
          const reply = await grid.call(
            'POST',
            path,
            typeof raw === 'string' ? raw : JSON.stringify(raw),
          );
          expect(
            OK_CODES.has(reply.status),
            `${path} → ${reply.status} ${JSON.stringify(reply.body)}`,
          ).to.equal(true);
        }),
        { numRuns: RUNS },
      );
    });

    it('answers random ids and wait values with 400/404, never 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ minLength: 1 }), fc.uuid()),
          fc.constantFrom('GET /status/', 'GET /result/', 'DELETE /task/'),
          fc.oneof(
            fc.constant(''),
            fc.string().map((w) => `?wait=${encodeURIComponent(w)}`),
          ),
          async (id, route, query) => {
            const [method, prefix] = route.split(' ') as [string, string];
            const reply = await grid.call(method, `${prefix}${encodeURIComponent(id)}${query}`);
            expect(reply.status).to.be.oneOf([400, 404, 409]);
          },
        ),
        { numRuns: RUNS },
      );
    });

    it('ignores random headers and still answers', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.stringMatching(/^x-[a-z]{1,10}$/), fc.stringMatching(/^[ -~]{0,40}$/)),
          fc.stringMatching(/^[ -~]{0,60}$/),
          async (headers, auth) => {
            const res = await fetch(`${server.url}/status/${keeper}`, {
              headers: { ...headers, authorization: auth },
            });
            expect(res.status).to.equal(200);
            await res.text();
          },
        ),
        { numRuns: RUNS },
      );
    });

    it('left the untouched task QUEUED and the server healthy', async () => {
      expect((await grid.call('GET', `/status/${keeper}`)).body.status).to.equal('QUEUED');
      expect((await grid.call('GET', '/healthz')).status).to.equal(200);
    });
  });

  describe('worker sockets', () => {
    let server: GridServer;
    let grid: GridClient;

    before(async () => {
      server = await startInProcess('memory', { mode: 'push' });
      grid = new GridClient(server.url);
    });
    after(async () => {
      await server.close();
    });

    it('closes a socket that sends a malformed frame (4400) and nothing else', async () => {
      const wsUrl = `${server.url.replace('http', 'ws')}/ws`;
      const bystander = (await openWorker(wsUrl)).ws;
      const frame = fc.oneof(
        fc.string(),
        fc.json(),
        fc.record({
          type: fc.constantFrom('results', 'pull', 'hello', 'nope'),
          results: fc.anything(),
          max: fc.anything(),
        }),
        fc.uint8Array({ maxLength: 64 }),
      );
      await fc.assert(
        fc.asyncProperty(frame, async (data) => {
          const { ws } = await openWorker(wsUrl);
          const done = closed(ws);
          ws.send(
            typeof data === 'string' || data instanceof Uint8Array ? data : JSON.stringify(data),
          );
          // A frame that happens to be valid (say, a pull) leaves the socket open: close it ourselves.
          const timer = setTimeout(() => ws.close(1000), 200);
          const code = await done;
          clearTimeout(timer);
          expect([1000, 1005, 4400, 4406]).to.include(code);
        }),
        { numRuns: 60 },
      );
      expect(bystander.readyState).to.equal(WebSocket.OPEN);
      bystander.close();
      expect((await grid.call('GET', '/healthz')).status).to.equal(200);
    });

    it('drops results for tasks a worker was not given; the task is unchanged', async () => {
      const fn = await grid.register('n => n');
      const id = await grid.submit(fn, [7]);
      const wsUrl = `${server.url.replace('http', 'ws')}/ws`;
      // A greedy worker takes the task; an intruder then claims to have finished it.
      const holder = await openWorker(wsUrl);
      expect(await holder.next()).to.have.property('type', 'tasks');
      const intruder = (await openWorker(wsUrl)).ws;
      intruder.send(
        JSON.stringify({
          type: 'results',
          results: [{ id, attempt: 1, status: 'COMPLETED', value: '"forged"', run_ms: 1 }],
        }),
      );
      await new Promise((r) => setTimeout(r, 200));
      expect((await grid.call('GET', `/result/${id}`)).body).to.deep.equal({
        task_id: id,
        status: 'RUNNING',
      });
      holder.ws.send(
        JSON.stringify({
          type: 'results',
          results: [{ id, attempt: 1, status: 'COMPLETED', value: '7', run_ms: 1 }],
        }),
      );
      expect(await grid.value(id)).to.equal(7);
      holder.ws.close();
      intruder.close();
    });
  });
});
