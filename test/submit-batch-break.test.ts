/**
 * Adversarial tests of the binary `submit_batch` frame on `/ws/client`: what
 * a hostile client or an unlucky operator would do to its guarantees (a
 * malformed frame closes the socket 4400 and stores nothing of it; a bad
 * payload refuses the whole batch and nothing else; a socket's batches are
 * stored one after another in the order sent; a batch is stored whole or not
 * at all; the same keys give the same ids; the SDK's map() yields every
 * result once, in order, through a server's kill -9 and restart; a tenant's
 * batch is its own).
 *
 * Randomised cases are seeded (TASKGRID_TEST_SEED, default below) and print
 * the seed when they fail.
 */

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { TaskGrid } from '../client/task-grid.js';
import type { GridServer } from '../server/grid-server.js';
import type { TokenEntry } from '../server/tenants.js';
import { decodeSubmitBatchFrame } from '../shared/submit-batch-frame.js';
import { withSeed } from './chaos/prng.js';
import { ClientSocket, type Frame, rawFrame } from './helpers/client-socket.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import {
  killAll,
  runProcess,
  type ServerProcess,
  startServer,
  waitForOutput,
} from './helpers/processes.js';
import { freePort } from './helpers/redis-server.js';
import { redisFlags, uniquePrefix } from './helpers/root-hooks.js';

/** The built SDK, as a script outside mocha imports it. */
const SDK = fileURLToPath(new URL('../index.js', import.meta.url));

const SEED = Number(process.env.TASKGRID_TEST_SEED ?? 20261129);

/** Task ids of a function, newest first, every page. */
async function listed(grid: GridClient, fn: string): Promise<string[]> {
  const all: string[] = [];
  let cursor: string | undefined;
  do {
    const after = cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const reply = await grid.call<{ tasks: { task_id: string }[]; next_cursor?: string }>(
      'GET',
      `/tasks?function_id=${fn}&limit=1000${after}`,
    );
    expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
    all.push(...reply.body.tasks.map((t) => t.task_id));
    cursor = reply.body.next_cursor;
  } while (cursor !== undefined);
  return all;
}

describe('submit_batch, broken on purpose', function () {
  this.timeout(60_000);

  describe('hostile frames, against a server process', () => {
    let server: ServerProcess;
    let grid: GridClient;
    before(async () => {
      server = await startServer(['--mode', 'local', '--threads', '2', ...redisFlags()]);
      grid = new GridClient(server.url);
    });
    after(killAll);

    it('closes 4400 on lengths past the frame, a zero head, non-integer or 10,001 lengths, and stores none of them', async () => {
      const fn = await grid.register('function edge1(s) { return s }');
      const head = { type: 'submit_batch', ref: 'e', function_id: fn, payload_bytes: [3, 3] };
      const many = Array.from({ length: 10_001 }, () => 2);
      const malformed: [string, Buffer][] = [
        ['lengths summing past the frame', rawFrame(head, Buffer.from('[1][2'))],
        [
          'a huge length',
          rawFrame({ ...head, payload_bytes: [3, 2 ** 32] }, Buffer.from('[1][2]')),
        ],
        ['head length 0', rawFrame(head, Buffer.from('[1][2]'), 0)],
        [
          'a fractional length',
          rawFrame({ ...head, payload_bytes: [1.5, 4.5] }, Buffer.from('[1][2]')),
        ],
        ['a length as text', rawFrame({ ...head, payload_bytes: ['3', 3] }, Buffer.from('[1][2]'))],
        [
          '10,001 payloads',
          rawFrame({ ...head, payload_bytes: many }, Buffer.from('[]'.repeat(10_001))),
        ],
        ['a head that is an array', rawFrame([head], Buffer.from('[1][2]'))],
      ];
      for (const [what, frame] of malformed) {
        const socket = await new ClientSocket(server.url).open();
        socket.ws.send(frame);
        expect((await socket.closed).code, what).to.equal(4400);
      }
      expect(await listed(grid, fn)).to.deep.equal([]);
    });

    it('refuses, keeping the socket open, lengths that cut a character in two, a head that ends the frame, keys that do not match', async () => {
      const fn = await grid.register('function edge2(s) { return s }');
      const socket = await new ClientSocket(server.url).open();
      try {
        // ["é"] twice; é is 0xc3 0xa9: lengths 3 + 7 cut the first payload's é in two.
        const texts = Buffer.from('["é"]["é"]');
        expect(texts.length).to.equal(12);
        const cases: [string, Buffer, string][] = [
          [
            'é cut in two',
            rawFrame(
              { type: 'submit_batch', ref: 'cut', function_id: fn, payload_bytes: [3, 9] },
              texts,
            ),
            'TG_BAD_PAYLOAD',
          ],
          [
            'head length exactly at the end: one empty payload',
            rawFrame(
              { type: 'submit_batch', ref: 'end', function_id: fn, payload_bytes: [0] },
              Buffer.alloc(0),
            ),
            'TG_BAD_PAYLOAD',
          ],
        ];
        for (const [what, frame, code] of cases) {
          socket.ws.send(frame);
          const answer = await socket.next();
          expect(answer, what).to.include({ type: 'refused', code });
        }
        const one = randomUUID();
        socket.batch({
          ref: 'longer',
          function_id: fn,
          payloads: ['[1]'],
          idempotency_keys: [one, randomUUID()],
        });
        expect(await socket.next()).to.include({
          type: 'refused',
          ref: 'longer',
          code: 'TG_BAD_PAYLOAD',
        });
        socket.batch({
          ref: 'dup',
          function_id: fn,
          payloads: ['[1]', '[2]'],
          idempotency_keys: [one, one],
        });
        expect(await socket.next()).to.include({
          type: 'refused',
          ref: 'dup',
          code: 'TG_BAD_PAYLOAD',
        });
        expect(await listed(grid, fn)).to.deep.equal([]);
        // The lengths right, the same bytes are stored, the key `one` unused so far.
        socket.ws.send(
          rawFrame(
            {
              type: 'submit_batch',
              ref: 'right',
              function_id: fn,
              payload_bytes: [6, 6],
              idempotency_keys: [one, randomUUID()],
            },
            texts,
          ),
        );
        const stored = await socket.next();
        expect(stored).to.include({ type: 'submitted_batch', ref: 'right' });
        const results = await socket.results(2);
        for (const id of stored.task_ids as string[]) {
          expect(results.get(id)?.result).to.equal('"é"');
        }
      } finally {
        socket.ws.close();
      }
    });

    it('reads only the head’s known fields: another tenant, payloads or a single key in the head change nothing', async () => {
      const fn = await grid.register('function edge3(s) { return s }');
      const socket = await new ClientSocket(server.url).open();
      try {
        socket.ws.send(
          rawFrame(
            {
              type: 'submit_batch',
              ref: 'extra',
              function_id: fn,
              payload_bytes: [3],
              payloads: ['[666]', '[667]'],
              tenant: 'beta',
              idempotency_key: 'one-for-all',
              unknown: { deep: [1, 2, 3] },
            },
            Buffer.from('[5]'),
          ),
        );
        const answer = await socket.next();
        expect(answer).to.include({ type: 'submitted_batch', ref: 'extra' });
        const [id] = answer.task_ids as string[];
        expect((await socket.results(1)).get(id as string)?.result).to.equal('5');
        expect(await listed(grid, fn)).to.deep.equal([id]);
        const task = await grid.call<Record<string, unknown>>('GET', `/task/${id}`);
        expect(task.status).to.equal(200);
        expect(task.body.idempotency_key).to.equal(undefined);
      } finally {
        socket.ws.close();
      }
    });

    it('answers payloads with a lone surrogate escape, or other edge texts, as POST /execute_batch does', async () => {
      const fn = await grid.register('function edge4(...a) { return a.length }');
      const batches: string[][] = [
        ['["\\ud800"]'],
        ['[1]', '["\\udfff"]'],
        ['["\\ud83d\\ude00"]', '[" \\u0000 "]'],
        ['[1] '],
        [' [1]'],
        ['\ufeff[1]'],
        ['[1,]'],
        ['{"$task": "x"}'],
        ['[{"$task": "00000000-0000-4000-8000-000000000000"}]'],
        ['null'],
        ['[]', '[[[[[[[[[[1]]]]]]]]]]'],
      ];
      const socket = await new ClientSocket(server.url).open();
      try {
        for (const [b, payloads] of batches.entries()) {
          const rest = await grid.call<Record<string, unknown>>('POST', '/execute_batch', {
            function_id: fn,
            payloads,
          });
          socket.batch({ ref: `s${b}`, function_id: fn, payloads });
          const results: Frame[] = [];
          const answer = await socket.answer(results);
          const what = JSON.stringify(payloads);
          if (rest.status === 201) {
            expect(answer.type, `${what}: ${JSON.stringify(answer)}`).to.equal('submitted_batch');
            const ids = answer.task_ids as string[];
            const socketResults = await socket.results(ids.length, results);
            const restIds = rest.body.task_ids as string[];
            for (const [i, id] of ids.entries()) {
              const byRest = await grid.wait(restIds[i] as string);
              const frame = socketResults.get(id);
              expect({ status: frame?.status, result: frame?.result }, what).to.deep.equal({
                status: byRest.status,
                result: byRest.result,
              });
            }
          } else {
            expect(answer, `${what}: REST said ${rest.status}`).to.include({
              type: 'refused',
              ref: `s${b}`,
              code: (rest.body.error as { code: string }).code,
            });
          }
        }
      } finally {
        socket.ws.close();
      }
    });

    it('stores pipelined batches in the order sent, refused ones in the middle skipped', async () => {
      await withSeed(SEED, async (prng) => {
        const fn = await grid.register('function order(s) { return s }');
        const socket = await new ClientSocket(server.url).open();
        try {
          const plan: { ref: string; bad: boolean; size: number }[] = [];
          for (let b = 0; b < 24; b++) {
            const bad = prng.chance(0.3);
            const size = prng.int(1, 40);
            plan.push({ ref: `p${b}`, bad, size });
            const payloads = Array.from({ length: size }, (_, i) =>
              bad && i === size - 1 ? '{"not":"an array"}' : `[${b * 100 + i}]`,
            );
            socket.batch({ ref: `p${b}`, function_id: fn, payloads });
          }
          const ids: string[] = [];
          for (const step of plan) {
            const answer = await socket.answer();
            expect(answer.ref).to.equal(step.ref);
            expect(answer.type).to.equal(step.bad ? 'refused' : 'submitted_batch');
            if (!step.bad) ids.push(...(answer.task_ids as string[]));
          }
          expect(ids).to.have.length(plan.filter((p) => !p.bad).reduce((n, p) => n + p.size, 0));
          expect(await listed(grid, fn)).to.deep.equal([...ids].reverse());
        } finally {
          socket.ws.close();
        }
      });
    });

    it('stores the batches before a malformed frame in a pipeline, and none after it', async () => {
      const fn = await grid.register('function pipe(s) { return s }');
      const socket = await new ClientSocket(server.url).open();
      const head = { type: 'submit_batch', ref: 'bad', function_id: fn, payload_bytes: [3] };
      const sizes = [30, 5, 17];
      for (const [b, size] of sizes.entries()) {
        const payloads = Array.from({ length: size }, (_, i) => `[${b}, ${i}]`);
        socket.batch({ ref: `before${b}`, function_id: fn, payloads });
      }
      socket.ws.send(rawFrame(head, Buffer.from('[1][2]')));
      for (let b = 0; b < 3; b++) {
        socket.batch({ ref: `after${b}`, function_id: fn, payloads: ['["after"]'] });
      }
      expect((await socket.closed).code).to.equal(4400);
      const ids = await listed(grid, fn);
      expect(ids, 'only the batches before the malformed frame').to.have.length(52);
      // What it answered before it closed: the three before, in order.
      const seen: Frame[] = [];
      for (;;) {
        const frame = await Promise.race([
          socket.next(),
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)),
        ]);
        if (!frame) break;
        if (frame.type !== 'result') seen.push(frame);
      }
      expect(seen.map((f) => f.ref)).to.deep.equal(['before0', 'before1', 'before2']);
    });

    it('reads nothing after a malformed text frame: neither a submit nor a batch sent behind it is stored', async () => {
      const fn = await grid.register('function behind(s) { return s }');
      const socket = await new ClientSocket(server.url).open();
      socket.ws.send('{"type":"subscribe","ids":"not a list"}');
      socket.ws.send(JSON.stringify({ type: 'submit', ref: 's', function_id: fn, payload: '[1]' }));
      socket.batch({ ref: 'b', function_id: fn, payloads: ['[2]', '[3]'] });
      expect((await socket.closed).code).to.equal(4400);
      // A store round trip later: anything taken would be listed by now.
      await new Promise((r) => setTimeout(r, 200));
      expect(await listed(grid, fn)).to.deep.equal([]);
    });

    it('stores each batch whole or not at all, in order, when its socket closes right after sending two; the same keys then give the same ids', async () => {
      await withSeed(SEED + 1, async (prng) => {
        const fn = await grid.register('async function slowish(n) { return n }');
        let total = 0;
        for (let round = 0; round < 6; round++) {
          const size = prng.int(200, 2000);
          const keys = Array.from({ length: size }, () => randomUUID());
          const payloads = keys.map((_, i) => `[${round * 10_000 + i}]`);
          // Two frames: the second waits behind the first, so it is usually never taken.
          const cut = prng.int(1, size - 1);
          const first = await new ClientSocket(server.url).open();
          first.batch({
            ref: 'gone0',
            function_id: fn,
            payloads: payloads.slice(0, cut),
            idempotency_keys: keys.slice(0, cut),
          });
          first.batch({
            ref: 'gone1',
            function_id: fn,
            payloads: payloads.slice(cut),
            idempotency_keys: keys.slice(cut),
          });
          const how = round % 3;
          // Closed at once, a little later, or torn down without a close frame.
          if (how === 0) first.ws.close();
          else if (how === 1) setTimeout(() => first.ws.close(), prng.int(0, 5));
          else first.ws.terminate();
          await first.closed;
          // Whatever the server did with them is done by now: each stored whole, or not at all,
          // and the second never without the first.
          await new Promise((r) => setTimeout(r, 300));
          const stored = (await listed(grid, fn)).length - total;
          expect(
            [0, cut, size],
            `round ${round} (${how}): ${stored} of ${cut} + ${size - cut}`,
          ).to.include(stored);
          const second = await new ClientSocket(server.url).open();
          try {
            second.batch({ ref: 'again', function_id: fn, payloads, idempotency_keys: keys });
            const answer = await second.answer();
            expect(answer).to.include({ type: 'submitted_batch', ref: 'again' });
            const ids = answer.task_ids as string[];
            expect(new Set(ids).size).to.equal(size);
            const results = await second.results(size);
            ids.forEach((id, i) => {
              expect(results.get(id)?.result).to.equal(String(round * 10_000 + i));
            });
            total += size;
            const all = await listed(grid, fn);
            expect(all.length, `round ${round}: no duplicate tasks`).to.equal(total);
            expect(all.slice(0, size)).to.deep.equal([...ids].reverse());
          } finally {
            second.ws.close();
          }
        }
      });
    });

    it('delivers the results of a batch whose keys repeat finished tasks, mixed with new ones, on a new socket', async () => {
      const fn = await grid.register('function twice(n) { return n * 2 }');
      const keys = Array.from({ length: 6 }, () => randomUUID());
      const first = await new ClientSocket(server.url).open();
      first.batch({
        ref: 'old',
        function_id: fn,
        payloads: ['[1]', '[2]', '[3]'],
        idempotency_keys: keys.slice(0, 3),
      });
      const old = (await first.answer()).task_ids as string[];
      await first.results(3);
      first.ws.close();
      const second = await new ClientSocket(server.url).open();
      try {
        // Old keys at 0 and 2 with other payloads (the old tasks stand), new keys in between.
        second.batch({
          ref: 'mixed',
          function_id: fn,
          payloads: ['[100]', '[4]', '[300]', '[5]', '[6]'],
          idempotency_keys: [keys[0], keys[3], keys[2], keys[4], keys[5]] as string[],
        });
        const results: Frame[] = [];
        const answer = await second.answer(results);
        expect(answer).to.include({ type: 'submitted_batch', ref: 'mixed' });
        const ids = answer.task_ids as string[];
        expect(ids[0]).to.equal(old[0]);
        expect(ids[2]).to.equal(old[2]);
        const got = await second.results(5, results);
        expect(ids.map((id) => got.get(id)?.result)).to.deep.equal(['2', '8', '6', '10', '12']);
        // Every key once: 3 old + 3 new tasks.
        expect(await listed(grid, fn)).to.have.length(6);
      } finally {
        second.ws.close();
      }
    });
  });

  describe('tenants', () => {
    const TOKENS: TokenEntry[] = [
      { role: 'client', token: 'alpha-batch-token', tenant: 'alpha', weight: 1 },
      { role: 'client', token: 'beta-batch-token', tenant: 'beta', weight: 1 },
    ];
    let server: GridServer;
    before(async () => {
      server = await startInProcess('redis', { token: 'default-batch-token', tokens: TOKENS });
    });
    after(async () => {
      await server.close();
    });

    it('stores a tenant’s batch as its own: another tenant cannot see, follow or reuse its tasks', async () => {
      const alpha = new GridClient(server.url, 'alpha-batch-token');
      const beta = new GridClient(server.url, 'beta-batch-token');
      const fn = await alpha.register('function own(n) { return n + 1 }');
      const keys = [randomUUID(), randomUUID()];
      const a = await new ClientSocket(server.url, 'alpha-batch-token').open();
      const b = await new ClientSocket(server.url, 'beta-batch-token').open();
      try {
        // Beta cannot run alpha's function in a batch either.
        b.batch({
          ref: 'theirs',
          function_id: fn,
          payloads: ['[1]'],
          idempotency_keys: [keys[0] as string],
        });
        expect(await b.next()).to.include({ type: 'refused', ref: 'theirs', code: 'TG_NOT_FOUND' });
        a.batch({ ref: 'mine', function_id: fn, payloads: ['[1]', '[2]'], idempotency_keys: keys });
        const answer = await a.answer();
        expect(answer).to.include({ type: 'submitted_batch', ref: 'mine' });
        const ids = answer.task_ids as string[];
        const results = await a.results(2);
        expect(ids.map((id) => results.get(id)?.result)).to.deep.equal(['2', '3']);
        for (const id of ids) {
          expect((await alpha.call('GET', `/task/${id}`)).status).to.equal(200);
          expect((await beta.call('GET', `/task/${id}`)).status).to.equal(404);
          expect((await beta.call('GET', `/result/${id}`)).status).to.equal(404);
        }
        expect(
          (await beta.call<{ tasks: unknown[] }>('GET', `/tasks?function_id=${fn}`)).body.tasks,
        ).to.deep.equal([]);
        expect(await listed(alpha, fn)).to.deep.equal([...ids].reverse());
        b.ws.send(JSON.stringify({ type: 'subscribe', ids }));
        const unknown = [await b.next(), await b.next()];
        expect(unknown.map((f) => f.type)).to.deep.equal(['unknown', 'unknown']);
        // Beta's own function with alpha's keys: new tasks of beta's, not alpha's ids.
        const theirs = await beta.register('function own(n) { return n + 1 }');
        b.batch({
          ref: 'keys',
          function_id: theirs,
          payloads: ['[10]', '[20]'],
          idempotency_keys: keys,
        });
        const again = await b.answer();
        expect(again).to.include({ type: 'submitted_batch', ref: 'keys' });
        const betaIds = again.task_ids as string[];
        expect(betaIds.filter((id) => ids.includes(id))).to.deep.equal([]);
        const betaResults = await b.results(2);
        expect(betaIds.map((id) => betaResults.get(id)?.result)).to.deep.equal(['11', '21']);
      } finally {
        a.ws.close();
        b.ws.close();
      }
    });
  });

  describe('the SDK’s map() against a scripted server', () => {
    it('throws a later batch’s failed result where map() reaches it, never as an unhandled rejection', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws/client' });
      wss.on('connection', (ws) => {
        let answered = 0;
        ws.on('message', (data, isBinary) => {
          if (!isBinary) return;
          const batch = decodeSubmitBatchFrame(data as Buffer);
          const id = `t${answered++}`;
          ws.send(JSON.stringify({ type: 'submitted_batch', ref: batch.ref, task_ids: [id] }));
          if (answered < 2) return;
          // The second task is unknown at once; the first one's result comes a while later.
          ws.send(JSON.stringify({ type: 'unknown', task_id: 't1' }));
          setTimeout(() => {
            ws.send(
              JSON.stringify({ type: 'result', task_id: 't0', status: 'COMPLETED', result: '7' }),
            );
          }, 200);
        });
      });
      await new Promise((resolve) => wss.once('listening', resolve));
      const grid = new TaskGrid({ url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}` });
      process.prependListener('unhandledRejection', onUnhandled);
      try {
        const out: unknown[] = [];
        const error = await (async () => {
          for await (const v of grid.function(randomUUID()).map([[1], [2]], { batchSize: 1 })) {
            out.push(v);
          }
        })().catch((e: unknown) => e);
        expect(out).to.deep.equal([7]);
        expect(String(error)).to.match(/No task with id t1/);
        await new Promise((r) => setTimeout(r, 50));
        expect(unhandled).to.deep.equal([]);
      } finally {
        process.removeListener('unhandledRejection', onUnhandled);
        grid.close();
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    });
  });

  describe('the SDK’s map() through a server’s kill -9', () => {
    after(killAll);

    it('yields every result once and in order when the server is killed mid-map and restarted on its port', async () => {
      const port = await freePort();
      const args = [
        '--mode',
        'local',
        '--threads',
        '2',
        ...redisFlags(uniquePrefix()),
        '--port',
        String(port),
      ];
      let server = await startServer(args);
      const grid = new TaskGrid({ url: server.url });
      const rest = new GridClient(server.url);
      try {
        const fn = await grid.register(async (n: number) => {
          await new Promise((r) => setTimeout(r, 2));
          return n * 3;
        });
        const n = 3000;
        const inputs = Array.from({ length: n }, (_, i) => [i] as [number]);
        // Killed once part of the batches are stored (submits still under way), and restarted.
        const killed = (async () => {
          for (;;) {
            const page = await rest.call<{ tasks: unknown[] }>(
              'GET',
              `/tasks?function_id=${fn.id}&limit=1000`,
            );
            if (page.body.tasks.length >= 400) break;
            await new Promise((r) => setTimeout(r, 10));
          }
          server.child.kill('SIGKILL');
          await server.exited;
          server = await startServer(args);
        })();
        const out: number[] = [];
        for await (const v of fn.map(inputs, { batchSize: 100 })) out.push(v);
        await killed;
        expect(out).to.deep.equal(inputs.map(([i]) => i * 3));
        const all = await listed(rest, fn.id);
        expect(all.length, 'one task per input').to.equal(n);
      } finally {
        grid.close();
      }
    });

    it('keeps a plain script that awaits map() running while its server is down and back, to its last result', async () => {
      const port = await freePort();
      const args = ['--mode', 'local', '--threads', '2', ...redisFlags(uniquePrefix())];
      let server = await startServer([...args, '--port', String(port)]);
      const rest = new GridClient(server.url);
      const fn = await rest.register(
        'async function later(n) { await new Promise((r) => setTimeout(r, 5)); return n + 1 }',
      );
      // The SDK only: nothing else of the script's keeps its event loop alive.
      const script = `
        const { TaskGrid } = await import(${JSON.stringify(SDK)});
        const grid = new TaskGrid({ url: ${JSON.stringify(server.url)} });
        let sum = 0, count = 0;
        for await (const v of grid.function(${JSON.stringify(fn)}).map(
          Array.from({ length: 400 }, (_, i) => [i]), { batchSize: 50 })) {
          sum += v;
          if (++count === 20) console.log('halfway');
        }
        console.log('done', count, sum);
        grid.close();`;
      const child = runProcess(process.execPath, ['--input-type=module', '-e', script]);
      await waitForOutput(child, /halfway/, 20_000);
      server.child.kill('SIGKILL');
      await server.exited;
      await new Promise((r) => setTimeout(r, 700));
      server = await startServer([...args, '--port', String(port)]);
      expect(await child.exited, child.output()).to.equal(0);
      expect(child.output()).to.include(`done 400 ${(400 * 401) / 2}`);
    });
  });
});
