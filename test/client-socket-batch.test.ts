/**
 * `submit_batch` on `/ws/client`: a batch's argument texts as raw bytes in
 * one binary frame. The protocol against a real server process (answers,
 * all-or-nothing refusals, malformed frames closing the socket, order,
 * idempotency), then the SDK's `map()` over it: on the socket by default,
 * by REST when the server takes smaller frames, and retried with the same
 * keys when the socket closes under a batch.
 */

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { TaskGrid, TaskGridHttpError } from '../client/task-grid.js';
import { defaultConfig } from '../server/server-config.js';
import type { SubmitBatchMessage } from '../shared/protocol.js';
import { decodeSubmitBatchFrame } from '../shared/submit-batch-frame.js';
import { ClientSocket, rawFrame } from './helpers/client-socket.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess, withSdkGrid } from './helpers/in-process.js';
import { spyOnPosts } from './helpers/post-spy.js';
import { killAll, type ServerProcess, startServer } from './helpers/processes.js';
import { redisFlags } from './helpers/root-hooks.js';

describe('submit_batch on /ws/client', function () {
  this.timeout(30_000);

  describe('the protocol, against a server process', () => {
    let server: ServerProcess;
    let grid: GridClient;
    let fn: string;
    before(async () => {
      server = await startServer(['--mode', 'local', '--threads', '2', ...redisFlags()]);
      grid = new GridClient(server.url);
      fn = await grid.register('function echo(s) { return s }');
    });
    after(killAll);

    it('answers `submitted_batch` with the ids in payload order, then each result on the socket', async () => {
      const socket = await new ClientSocket(server.url).open();
      try {
        // Large and small, ASCII and not: the bytes are each text's UTF-8 as it came.
        const texts = ['big '.repeat(20_000), 'ü€𝄞', '', 'x'];
        socket.batch({
          ref: 'b1',
          function_id: fn,
          payloads: texts.map((t) => JSON.stringify([t])),
        });
        const answer = await socket.next();
        expect(answer).to.have.keys(['type', 'ref', 'task_ids']);
        expect(answer).to.include({ type: 'submitted_batch', ref: 'b1' });
        const ids = answer.task_ids as string[];
        expect(ids).to.have.length(4);
        const results = await socket.results(4);
        ids.forEach((id, i) => {
          expect(results.get(id)).to.deep.equal({
            type: 'result',
            task_id: id,
            status: 'COMPLETED',
            result: JSON.stringify(texts[i]),
          });
        });
      } finally {
        socket.ws.close();
      }
    });

    it('sends large results as binary frames to a socket that asks (`?binary_results=1`), text to others', async () => {
      const asking = await new ClientSocket(server.url, undefined, { binaryResults: true }).open();
      const plain = await new ClientSocket(server.url).open();
      try {
        // A large result with multi-byte characters and characters JSON escapes; a small one.
        const texts = ['é"\\\n😀'.repeat(4_000), 'small'];
        asking.batch({
          ref: 'r',
          function_id: fn,
          payloads: texts.map((t) => JSON.stringify([t])),
        });
        const ids = (await asking.next()).task_ids as string[];
        plain.send({ type: 'subscribe', ids });
        const binary = await asking.results(2);
        const text = await plain.results(2);
        ids.forEach((id, i) => {
          const result = {
            type: 'result',
            task_id: id,
            status: 'COMPLETED',
            result: JSON.stringify(texts[i]),
          };
          // Only the large one went binary, and only to the socket that asked.
          expect(binary.get(id)).to.deep.equal(i === 0 ? { ...result, binary: true } : result);
          expect(text.get(id)).to.deep.equal(result);
        });
      } finally {
        asking.ws.close();
        plain.ws.close();
      }
    });

    it('refuses the whole batch for one bad payload or an unknown function, stores none, and serves on', async () => {
      const fresh = await grid.register('function echo2(s) { return s }');
      const socket = await new ClientSocket(server.url).open();
      try {
        socket.batch({ ref: 'bad', function_id: fresh, payloads: ['[1]', '{"n":1}', '[3]'] });
        expect(await socket.next()).to.include({
          type: 'refused',
          ref: 'bad',
          code: 'TG_BAD_PAYLOAD',
        });
        socket.batch({ ref: 'nofn', function_id: randomUUID(), payloads: ['[1]'] });
        expect(await socket.next()).to.include({
          type: 'refused',
          ref: 'nofn',
          code: 'TG_NOT_FOUND',
        });
        const listed = await grid.call<{ tasks: unknown[] }>('GET', `/tasks?function_id=${fresh}`);
        expect(listed.body.tasks).to.deep.equal([]);
        socket.batch({ ref: 'ok', function_id: fresh, payloads: ['[7]'] });
        expect(await socket.next()).to.include({ type: 'submitted_batch', ref: 'ok' });
        expect(await socket.next()).to.include({ type: 'result', result: '7' });
      } finally {
        socket.ws.close();
      }
    });

    it('refuses a payload whose bytes are not UTF-8 (a lone surrogate’s bytes too), storing none of the batch', async () => {
      const fresh = await grid.register('function echo5(s) { return s }');
      const socket = await new ClientSocket(server.url).open();
      try {
        const invalid = [
          Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), // ["\xff"]
          Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]), // ["<U+D800 as CESU-8>"]
          Buffer.from([0x5b, 0x22, 0xc3, 0x22, 0x5d]), // a sequence cut short
        ];
        for (const [i, bad] of invalid.entries()) {
          socket.batch({ ref: `u${i}`, function_id: fresh, payloads: ['[1]', bad] });
          const refused = await socket.next();
          expect(refused, bad.toString('hex')).to.include({
            type: 'refused',
            ref: `u${i}`,
            code: 'TG_BAD_PAYLOAD',
          });
        }
        const listed = await grid.call<{ tasks: unknown[] }>('GET', `/tasks?function_id=${fresh}`);
        expect(listed.body.tasks).to.deep.equal([]);
      } finally {
        socket.ws.close();
      }
    });

    it('runs a payload that takes another task’s result (`{"$task": id}`) with that result in place', async () => {
      const socket = await new ClientSocket(server.url).open();
      try {
        socket.batch({ ref: 'dep', function_id: fn, payloads: ['["from a dependency"]'] });
        const [dep] = (await socket.next()).task_ids as string[];
        await socket.results(1);
        const big = 'q'.repeat(40_000);
        const payload = JSON.stringify([{ $task: dep }, big]).replace('"q', ' "q');
        const both = await grid.register('function both(a, b) { return a + b.length }');
        socket.batch({ ref: 'uses', function_id: both, payloads: [payload] });
        const [id] = (await socket.next()).task_ids as string[];
        const results = await socket.results(1);
        expect(results.get(id as string)?.result).to.equal(
          JSON.stringify('from a dependency40000'),
        );
      } finally {
        socket.ws.close();
      }
    });

    it('stores a socket’s batches in the order sent', async () => {
      const ordered = await grid.register('function echo3(s) { return s }');
      const socket = await new ClientSocket(server.url).open();
      try {
        const sent: string[][] = [];
        for (let b = 0; b < 5; b++) {
          const payloads = Array.from({ length: 20 }, (_, i) => `[${b * 20 + i}]`);
          sent.push(payloads);
          socket.batch({ ref: `r${b}`, function_id: ordered, payloads });
        }
        const ids: string[] = [];
        while (ids.length < 100) {
          const frame = await socket.next();
          if (frame.type === 'submitted_batch') {
            expect(frame.ref).to.equal(`r${ids.length / 20}`);
            ids.push(...(frame.task_ids as string[]));
          }
        }
        // Newest first: the listing is the submit order reversed.
        const listed = await grid.call<{ tasks: { task_id: string }[] }>(
          'GET',
          `/tasks?function_id=${ordered}&limit=1000`,
        );
        expect(listed.body.tasks.map((t) => t.task_id)).to.deep.equal([...ids].reverse());
      } finally {
        socket.ws.close();
      }
    });

    it('answers a repeated batch (same keys) with the same ids, and their results again', async () => {
      const keys = [randomUUID(), randomUUID()];
      const socket = await new ClientSocket(server.url).open();
      try {
        socket.batch({
          ref: 'one',
          function_id: fn,
          payloads: ['[1]', '[2]'],
          idempotency_keys: keys,
        });
        const first = await socket.next();
        await socket.results(2);
        socket.batch({
          ref: 'two',
          function_id: fn,
          payloads: ['[1]', '[2]'],
          idempotency_keys: keys,
        });
        const again = await socket.next();
        expect(again).to.deep.equal({
          type: 'submitted_batch',
          ref: 'two',
          task_ids: first.task_ids,
        });
        const results = await socket.results(2);
        expect([...results.keys()].sort()).to.deep.equal([...(first.task_ids as string[])].sort());
      } finally {
        socket.ws.close();
      }
    });

    it('refuses keys that do not match the payloads one for one, for that ref', async () => {
      const socket = await new ClientSocket(server.url).open();
      try {
        socket.batch({
          ref: 'k',
          function_id: fn,
          payloads: ['[1]', '[2]'],
          idempotency_keys: [randomUUID()],
        });
        const refused = await socket.next();
        expect(refused).to.include({ type: 'refused', ref: 'k' });
        expect(refused.code).to.equal('TG_BAD_PAYLOAD');
      } finally {
        socket.ws.close();
      }
    });

    it('closes with 4400 on a malformed frame, and stores nothing of it', async () => {
      const fresh = await grid.register('function echo4(s) { return s }');
      const head = { type: 'submit_batch', ref: 'm', function_id: fresh, payload_bytes: [3] };
      const malformed: [string, Buffer | string][] = [
        ['bytes past the texts', rawFrame(head, Buffer.from('[1][2]'))],
        ['texts cut short', rawFrame(head, Buffer.from('[1'))],
        ['head length past the frame', rawFrame(head, Buffer.from('[1]'), 10_000)],
        ['head not JSON', Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{{{[1]')])],
        ['no head length', Buffer.from([0, 1])],
        ['no payloads', rawFrame({ ...head, payload_bytes: [] }, Buffer.alloc(0))],
        ['a negative length', rawFrame({ ...head, payload_bytes: [-1] }, Buffer.alloc(0))],
        ['no ref', rawFrame({ ...head, ref: undefined }, Buffer.from('[1]'))],
        ['another type', rawFrame({ ...head, type: 'submit' }, Buffer.from('[1]'))],
        ['a text frame', JSON.stringify({ ...head, payloads: ['[1]'] })],
      ];
      for (const [what, frame] of malformed) {
        const socket = await new ClientSocket(server.url).open();
        socket.ws.send(frame);
        expect((await socket.closed).code, what).to.equal(4400);
      }
      const listed = await grid.call<{ tasks: unknown[] }>('GET', `/tasks?function_id=${fresh}`);
      expect(listed.body.tasks).to.deep.equal([]);
    });
  });

  describe('the frame limit', () => {
    it('takes a batch frame as large as a REST body, and closes 1009 on one past it', async () => {
      const MiB = 1024 * 1024;
      const limits = { ...defaultConfig().limits, bodyBytes: 2 * MiB };
      const server = await startInProcess('memory', { limits });
      try {
        const fn = await new GridClient(server.url).register('function len(s) { return s.length }');
        const payload = JSON.stringify(['x'.repeat(MiB / 2)]);
        const under = await new ClientSocket(server.url).open();
        under.batch({ ref: 'under', function_id: fn, payloads: [payload, payload, payload] });
        expect(await under.answer()).to.include({ type: 'submitted_batch', ref: 'under' });
        under.ws.close();
        const over = await new ClientSocket(server.url).open();
        over.batch({
          ref: 'over',
          function_id: fn,
          payloads: [payload, payload, payload, payload, payload],
        });
        expect((await over.closed).code).to.equal(1009);
      } finally {
        await server.close();
      }
    });
  });

  describe('the SDK’s map()', () => {
    it('sends its batches on the socket, not by REST, and yields every result in order', async () => {
      const { posts, restore } = spyOnPosts();
      try {
        await withSdkGrid({}, async (grid) => {
          const length = await grid.register((s: string, n: number) => s.length + n);
          posts.length = 0;
          const big = 'y'.repeat(64 * 1024);
          const args = Array.from({ length: 250 }, (_, i): [string, number] => [big, i]);
          const out: number[] = [];
          for await (const v of length.map(args, { batchSize: 40 })) out.push(v);
          expect(out).to.deep.equal(args.map(([s, n]) => s.length + n));
          expect(posts).to.deep.equal([]);
        });
      } finally {
        restore();
      }
    });

    it('gets large results exactly, by `await fn()` and by map()', async () => {
      await withSdkGrid({}, async (grid) => {
        const repeat = await grid.register((s: string, n: number) => s.repeat(n));
        const piece = 'é"\\\n😀\u2028';
        expect(await repeat(piece, 20_000)).to.equal(piece.repeat(20_000));
        const out: string[] = [];
        for await (const v of repeat.map([
          [piece, 9_000],
          ['x', 3],
          [piece, 30_000],
        ]))
          out.push(v);
        expect(out).to.deep.equal([piece.repeat(9_000), 'xxx', piece.repeat(30_000)]);
      });
    });

    it('goes by REST when the server’s client frames are smaller than a batch', async () => {
      const limits = { ...defaultConfig().limits, frameBytes: 64 * 1024 };
      const { posts, restore } = spyOnPosts();
      try {
        await withSdkGrid({ limits }, async (grid) => {
          const length = await grid.register((s: string) => s.length);
          const args = Array.from({ length: 30 }, (_, i) => ['z'.repeat(10_000 + i)] as [string]);
          const out: number[] = [];
          for await (const v of length.map(args, { batchSize: 10 })) out.push(v);
          expect(out).to.deep.equal(args.map(([s]) => s.length));
          expect(posts.filter((p) => p === '/execute_batch')).to.have.length(3);
        });
      } finally {
        restore();
      }
    });

    it('retries a batch with the same keys when the socket closes before the answer, and on 503; takes results right behind the answer', async () => {
      const seen: SubmitBatchMessage[] = [];
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws/client' });
      wss.on('connection', (ws) =>
        ws.on('message', (data, isBinary) => {
          if (!isBinary) return;
          const batch = decodeSubmitBatchFrame(data as Buffer);
          seen.push(batch);
          if (seen.length === 1) ws.close(1011, 'gone');
          else if (seen.length === 2) {
            const refused = { code: 'TG_UNAVAILABLE', message: 'store away' };
            ws.send(JSON.stringify({ type: 'refused', ref: batch.ref, ...refused }));
          } else {
            const ids = batch.payloads.map((_, i) => `t${i}`);
            // Back to back: the answer and the results usually reach the SDK in one chunk.
            ws.send(JSON.stringify({ type: 'submitted_batch', ref: batch.ref, task_ids: ids }));
            for (const [i, id] of ids.entries()) {
              const result = String(i * 10);
              ws.send(JSON.stringify({ type: 'result', task_id: id, status: 'COMPLETED', result }));
            }
          }
        }),
      );
      await new Promise((resolve) => wss.once('listening', resolve));
      const grid = new TaskGrid({ url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}` });
      try {
        const out: unknown[] = [];
        for await (const v of grid.function(randomUUID()).map([[1], [2], [3]])) out.push(v);
        expect(out).to.deep.equal([0, 10, 20]);
        expect(seen).to.have.length(3);
        const keys = seen.map((b) => JSON.stringify(b.idempotency_keys));
        expect(new Set(keys).size, keys.join(' ')).to.equal(1);
        expect(seen[0]?.idempotency_keys).to.have.length(3);
      } finally {
        grid.close();
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    });

    it('goes by REST, and stays there, when the server closes 4400 on a batch frame (a server without submit_batch)', async () => {
      let binaryFrames = 0;
      let issued = 0;
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws/client' });
      wss.on('connection', (ws) =>
        ws.on('message', (data, isBinary) => {
          if (isBinary) {
            binaryFrames++;
            ws.close(4400, 'Frame refused unparsed');
            return;
          }
          const frame = JSON.parse(String(data)) as { type: string; ids?: string[] };
          for (const id of frame.ids ?? []) {
            const result = id.slice(1);
            ws.send(JSON.stringify({ type: 'result', task_id: id, status: 'COMPLETED', result }));
          }
        }),
      );
      await new Promise((resolve) => wss.once('listening', resolve));
      const url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
      const realFetch = globalThis.fetch;
      const posts: string[] = [];
      // The REST side of that server: each payload `[n]` becomes task `t<n>`.
      globalThis.fetch = async (input, init) => {
        posts.push(new URL(String(input)).pathname);
        const body = JSON.parse(String(init?.body)) as { payloads: string[] };
        issued += body.payloads.length;
        const ids = body.payloads.map((p) => `t${(JSON.parse(p) as number[])[0]}`);
        return new Response(JSON.stringify({ task_ids: ids }), { status: 201 });
      };
      const grid = new TaskGrid({ url });
      try {
        const args = Array.from({ length: 30 }, (_, i) => [i] as [number]);
        const out: unknown[] = [];
        for await (const v of grid.function(randomUUID()).map(args, { batchSize: 10 })) out.push(v);
        expect(out).to.deep.equal(args.map(([i]) => i));
        expect(binaryFrames, 'batch frames tried').to.be.within(1, 4);
        expect(posts).to.deep.equal(['/execute_batch', '/execute_batch', '/execute_batch']);
        expect(issued).to.equal(30);
        // Later maps go by REST at once.
        const before = binaryFrames;
        for await (const _ of grid.function(randomUUID()).map([[40]])) {
          // drained
        }
        expect(binaryFrames).to.equal(before);
      } finally {
        globalThis.fetch = realFetch;
        grid.close();
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    });

    it('throws the refusal’s HTTP error (404 for an unknown function)', async () => {
      await withSdkGrid({}, async (grid) => {
        const error = await (async () => {
          for await (const _ of grid.function(randomUUID()).map([[1], [2]])) {
            // nothing comes
          }
        })().catch((e: unknown) => e);
        expect(error).to.be.instanceOf(TaskGridHttpError);
        expect(error).to.include({ status: 404, code: 'TG_NOT_FOUND' });
      });
    });
  });
});
