/** Every row and status code of the REST table in README.md ("REST API"), against every store. */

import { randomUUID } from 'node:crypto';
import { FormatRegistry } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { expect } from 'chai';
import type { GridServer } from '../server/grid-server.js';
import { WorkersReply } from '../server/http/schemas.js';
import { deserialize } from '../shared/serialize.js';
import { TASK_STATUSES } from '../shared/types.js';
import { GridClient } from './helpers/grid-client.js';
import { STORE_KINDS, startInProcess } from './helpers/in-process.js';

const DOUBLE = 'function double(n) { return n * 2 }';

/** The part of the OpenAPI document that holds a route's reply schemas. */
interface OpenApiPaths {
  paths: Record<
    string,
    { get: { responses: Record<string, { content: Record<string, { schema: unknown }> }> } }
  >;
}

for (const store of STORE_KINDS) {
  describe(`REST API contract (local mode, ${store} store)`, () => {
    let server: GridServer;
    let grid: GridClient;
    before(async () => {
      server = await startInProcess(store, {
        limits: {
          ...(await import('../server/server-config.js')).defaultConfig().limits,
          batchLength: 50,
        },
      });
      grid = new GridClient(server.url);
    });
    after(async () => {
      await server.close();
    });

    describe('POST /register_function', () => {
      it('201 with a function_id (UUID) for each kind of function', async () => {
        for (const payload of [
          DOUBLE,
          'n => n * 2',
          'async function (n) { return n }',
          'async n => n',
        ]) {
          const reply = await grid.call('POST', '/register_function', { name: 'f', payload });
          expect(reply.status, payload).to.equal(201);
          expect(reply.body.function_id).to.match(/^[0-9a-f-]{36}$/);
        }
      });
      it('400 when the payload is not exactly one function, saying why', async () => {
        for (const [payload, why] of [
          ['payload', /identifier/],
          ['(() => {})()', /call/],
          ['function (', /not valid JavaScript/],
        ] as const) {
          const reply = await grid.call<{ error: { code: string; message: string } }>(
            'POST',
            '/register_function',
            { name: 'f', payload },
          );
          expect(reply.status).to.equal(400);
          expect(reply.body.error.message).to.match(why);
        }
      });
      it('422 when a field is missing or of the wrong type', async () => {
        expect((await grid.call('POST', '/register_function', { name: 'f' })).status).to.equal(422);
        expect(
          (await grid.call('POST', '/register_function', { name: 1, payload: DOUBLE })).status,
        ).to.equal(422);
        expect((await grid.call('POST', '/register_function', [1, 2])).status).to.equal(422);
      });
      it('413 when the function source is too large', async () => {
        const payload = `function big() { return "${'x'.repeat(1024 * 1024)}" }`;
        expect(
          (await grid.call('POST', '/register_function', { name: 'f', payload })).status,
        ).to.equal(413);
      });
      it('413 when the body is larger than the body limit', async () => {
        const payload = 'x'.repeat(11 * 1024 * 1024);
        expect(
          (await grid.call('POST', '/register_function', { name: 'f', payload })).status,
        ).to.equal(413);
      });
      it('400 for a body that is not JSON', async () => {
        expect((await grid.call('POST', '/register_function', '{"name": ')).status).to.equal(400);
      });
    });

    describe('POST /execute_function and GET /result', () => {
      it('runs double(n) and returns JSON text that deserializes to 2n', async () => {
        const fn = await grid.register(DOUBLE);
        for (const n of [1, 21, -4]) {
          const reply = await grid.call('POST', '/execute_function', {
            function_id: fn,
            payload: JSON.stringify([n]),
          });
          expect(reply.status).to.equal(201);
          const taskId = reply.body.task_id as string;
          expect(taskId).to.match(/^[0-9a-f-]{36}$/);
          const body = await grid.wait(taskId);
          expect(body.status).to.equal('COMPLETED');
          expect(deserialize(body.result as string)).to.equal(2 * n);
        }
      });
      it('answers /result with 200 at every status, with result only when finished', async () => {
        const fn = await grid.register(
          'async () => { await new Promise(r => setTimeout(r, 300)); return "ok" }',
        );
        const id = await grid.submit(fn, []);
        const early = await grid.call('GET', `/result/${id}`);
        expect(early.status).to.equal(200);
        expect(TASK_STATUSES).to.include(early.body.status);
        if (early.body.status !== 'COMPLETED') expect(early.body).to.not.have.property('result');
        const status = await grid.call('GET', `/status/${id}`);
        expect(status.status).to.equal(200);
        expect(status.body).to.have.keys(['task_id', 'status']);
        const done = await grid.call('GET', `/result/${id}?wait=5000`);
        expect(done.body).to.deep.equal({ task_id: id, status: 'COMPLETED', result: '"ok"' });
      });
      it('long-poll returns as soon as the task finishes', async () => {
        const fn = await grid.register(
          'async () => { await new Promise(r => setTimeout(r, 200)); return 1 }',
        );
        const id = await grid.submit(fn, []);
        const reply = await grid.call('GET', `/result/${id}?wait=30000`);
        expect(reply.body.status).to.equal('COMPLETED');
      });
      it('long-poll on a task that stays QUEUED returns 200 with its status when the wait ends', async () => {
        const fn = await grid.register(
          'async () => { await new Promise(r => setTimeout(r, 2000)); return 1 }',
        );
        const ids = await grid.batch(fn, [[], [], [], [], []]);
        const last = ids[ids.length - 1] as string;
        const reply = await grid.call('GET', `/result/${last}?wait=50`);
        expect(reply.status).to.equal(200);
        expect(['QUEUED', 'RUNNING']).to.include(reply.body.status);
        for (const id of ids) await grid.call('DELETE', `/task/${id}`);
      });
      it('a throwing function ends FAILED with its error name and message', async () => {
        const fn = await grid.register('function boom() { throw new TypeError("bad input") }');
        const body = await grid.wait(await grid.submit(fn, []));
        expect(body.status).to.equal('FAILED');
        const error = deserialize(body.result as string) as Record<string, string>;
        expect(error).to.include({ name: 'TypeError', message: 'bad input' });
        expect(error.stack).to.be.a('string');
      });
      it('400 for a payload that is not JSON text of an array', async () => {
        const fn = await grid.register(DOUBLE);
        for (const payload of ['2', '{"n":2}', '[2', 'null']) {
          const reply = await grid.call('POST', '/execute_function', { function_id: fn, payload });
          expect(reply.status, payload).to.equal(400);
        }
      });
      it('404 for an unknown function', async () => {
        for (const function_id of [randomUUID(), 'not-a-uuid']) {
          const reply = await grid.call('POST', '/execute_function', {
            function_id,
            payload: '[1]',
          });
          expect(reply.status).to.equal(404);
        }
      });
      it('422 for a body that does not fit the schema', async () => {
        const fn = await grid.register(DOUBLE);
        expect((await grid.call('POST', '/execute_function', { function_id: fn })).status).to.equal(
          422,
        );
        expect(
          (await grid.call('POST', '/execute_function', { function_id: fn, payload: [1] })).status,
        ).to.equal(422);
        expect(
          (
            await grid.call('POST', '/execute_function', {
              function_id: fn,
              payload: '[1]',
              timeout_ms: -1,
            })
          ).status,
        ).to.equal(422);
      });
      it('400 for a malformed wait', async () => {
        const fn = await grid.register(DOUBLE);
        const id = await grid.submit(fn, [1]);
        expect((await grid.call('GET', `/result/${id}?wait=soon`)).status).to.equal(400);
      });
    });

    describe('POST /execute_function?wait (one request)', () => {
      const submit = (fn: string, payload: string, query: string, key?: string) =>
        grid.call<{ task_id: string; status?: string; result?: string }>(
          'POST',
          `/execute_function${query}`,
          { function_id: fn, payload, ...(key ? { idempotency_key: key } : {}) },
        );
      it('200 with {task_id, status, result} when the task finishes within the wait', async () => {
        const fn = await grid.register(DOUBLE);
        const reply = await submit(fn, '[21]', '?wait=10000');
        expect(reply.status).to.equal(200);
        expect(reply.body).to.have.keys(['task_id', 'status', 'result']);
        expect(reply.body.status).to.equal('COMPLETED');
        expect(deserialize(reply.body.result as string)).to.equal(42);
        // The same body GET /result gives for it.
        const read = await grid.call('GET', `/result/${reply.body.task_id}`);
        expect(read.body).to.deep.equal(reply.body);
      });
      it('200 with status FAILED and the error when the task fails within the wait', async () => {
        const fn = await grid.register('function boom() { throw new RangeError("no") }');
        const reply = await submit(fn, '[]', '?wait=10000');
        expect(reply.status).to.equal(200);
        expect(reply.body.status).to.equal('FAILED');
        expect(deserialize(reply.body.result as string)).to.include({
          name: 'RangeError',
          message: 'no',
        });
      });
      it('201 with only the id once the wait ends before the task does', async () => {
        const fn = await grid.register(
          'async () => { await new Promise(r => setTimeout(r, 1500)); return 1 }',
        );
        const reply = await submit(fn, '[]', '?wait=100');
        expect(reply.status).to.equal(201);
        expect(reply.body).to.have.keys(['task_id']);
        expect(await grid.value(reply.body.task_id)).to.equal(1);
      });
      it('400 for a malformed wait, and nothing is stored', async () => {
        const fn = await grid.register(DOUBLE);
        const key = randomUUID();
        for (const query of ['?wait=soon', '?wait=-1', '?wait=1.5']) {
          const reply = await submit(fn, '[1]', query, key);
          expect(reply.status, query).to.equal(400);
        }
        // The key was never used: a submit with it stores a new task.
        expect((await submit(fn, '[1]', '', key)).status).to.equal(201);
      });
      it('a repeated idempotency key waits for the task stored the first time', async () => {
        const fn = await grid.register(DOUBLE);
        const key = randomUUID();
        const first = await submit(fn, '[5]', '?wait=10000', key);
        const again = await submit(fn, '[5]', '?wait=10000', key);
        expect(first.status).to.equal(200);
        expect(again.status).to.equal(200);
        expect(again.body).to.deep.equal(first.body);
        const slow = await grid.register(
          'async () => { await new Promise(r => setTimeout(r, 1500)); return 2 }',
        );
        const slowKey = randomUUID();
        const stored = await submit(slow, '[]', '', slowKey);
        const repeat = await submit(slow, '[]', '?wait=50', slowKey);
        expect([stored.status, repeat.status]).to.deep.equal([201, 200]);
        expect(repeat.body).to.deep.equal({ task_id: stored.body.task_id });
      });
    });

    describe('idempotency keys', () => {
      it('a repeat of idempotency_key answers 200 with the task stored the first time', async () => {
        const fn = await grid.register(DOUBLE);
        const key = randomUUID();
        const body = { function_id: fn, payload: '[21]', idempotency_key: key };
        const first = await grid.call<{ task_id: string }>('POST', '/execute_function', body);
        const again = await grid.call<{ task_id: string }>('POST', '/execute_function', body);
        expect(first.status).to.equal(201);
        expect(again.status).to.equal(200);
        expect(again.body.task_id).to.equal(first.body.task_id);
        expect(await grid.value(first.body.task_id)).to.equal(42);
      });
      it('idempotency_keys in a batch: 200 when every key repeats, 201 when one is new', async () => {
        const fn = await grid.register(DOUBLE);
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const batch = (keys: string[], payloads: string[]) =>
          grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
            function_id: fn,
            payloads,
            idempotency_keys: keys,
          });
        const first = await batch([a, b], ['[1]', '[2]']);
        const repeat = await batch([a, b], ['[1]', '[2]']);
        const mixed = await batch([b, c], ['[2]', '[3]']);
        expect([first.status, repeat.status, mixed.status]).to.deep.equal([201, 200, 201]);
        expect(repeat.body.task_ids).to.deep.equal(first.body.task_ids);
        expect(mixed.body.task_ids[0]).to.equal(first.body.task_ids[1]);
        expect(await grid.value(mixed.body.task_ids[1] as string)).to.equal(6);
      });
      it('400 for a batch whose keys do not match its payloads or repeat within it', async () => {
        const fn = await grid.register(DOUBLE);
        for (const keys of [['k'], ['k', 'k']]) {
          const reply = await grid.call('POST', '/execute_batch', {
            function_id: fn,
            payloads: ['[1]', '[2]'],
            idempotency_keys: keys,
          });
          expect(reply.status, JSON.stringify(keys)).to.equal(400);
        }
      });
    });

    describe('POST /execute_batch', () => {
      it('201 with task_ids in the same order as the payloads', async () => {
        const fn = await grid.register(DOUBLE);
        const reply = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
          function_id: fn,
          payloads: ['[1]', '[2]', '[3]'],
        });
        expect(reply.status).to.equal(201);
        const values = await Promise.all(reply.body.task_ids.map((id) => grid.value(id)));
        expect(values).to.deep.equal([2, 4, 6]);
      });
      it('is all-or-nothing: one bad payload rejects the batch and stores nothing', async () => {
        const fn = await grid.register(DOUBLE);
        const before = await server.store.queueDepth();
        const reply = await grid.call('POST', '/execute_batch', {
          function_id: fn,
          payloads: ['[1]', 'oops'],
        });
        expect(reply.status).to.equal(400);
        expect(await server.store.queueDepth()).to.equal(before);
        expect(
          (
            await grid.call('POST', '/execute_batch', {
              function_id: randomUUID(),
              payloads: ['[1]'],
            })
          ).status,
        ).to.equal(404);
        expect(
          (await grid.call('POST', '/execute_batch', { function_id: fn, payloads: '[1]' })).status,
        ).to.equal(422);
      });
      it('413 for a batch longer than the limit', async () => {
        const fn = await grid.register(DOUBLE);
        const payloads = Array.from({ length: 51 }, () => '[1]');
        expect(
          (await grid.call('POST', '/execute_batch', { function_id: fn, payloads })).status,
        ).to.equal(413);
      });
    });

    describe('GET /status, GET /result, DELETE /task', () => {
      it('404 for an unknown id and 400 for a malformed one', async () => {
        for (const path of ['/status', '/result']) {
          expect((await grid.call('GET', `${path}/${randomUUID()}`)).status).to.equal(404);
          expect((await grid.call('GET', `${path}/nope`)).status).to.equal(400);
        }
        expect((await grid.call('DELETE', `/task/${randomUUID()}`)).status).to.equal(404);
        expect((await grid.call('DELETE', '/task/nope')).status).to.equal(400);
      });
      it('DELETE turns a QUEUED task CANCELLED and answers 409 once it is finished', async () => {
        const slow = await grid.register(
          'async () => { await new Promise(r => setTimeout(r, 1000)); return 1 }',
        );
        // Fill every thread and every credit so the last task stays QUEUED.
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          ids.push(
            ...(await grid.batch(
              slow,
              Array.from({ length: 50 }, () => []),
            )),
          );
        }
        const last = ids[ids.length - 1] as string;
        const reply = await grid.call('DELETE', `/task/${last}`);
        expect(reply.status).to.equal(200);
        expect(reply.body).to.deep.equal({ task_id: last, status: 'CANCELLED' });
        expect((await grid.call('GET', `/status/${last}`)).body.status).to.equal('CANCELLED');
        expect((await grid.call('DELETE', `/task/${last}`)).status).to.equal(409);
        for (const id of ids) await grid.call('DELETE', `/task/${id}`);
        const fn = await grid.register(DOUBLE);
        const done = await grid.submit(fn, [1]);
        await grid.wait(done);
        expect((await grid.call('DELETE', `/task/${done}`)).status).to.equal(409);
      });
      it('DELETE of a RUNNING task ends it and keeps it CANCELLED', async () => {
        const fn = await grid.register(
          'async () => { await new Promise(r => setTimeout(r, 3000)); return 1 }',
        );
        const id = await grid.submit(fn, []);
        for (
          let i = 0;
          i < 100 && (await grid.call('GET', `/status/${id}`)).body.status !== 'RUNNING';
          i++
        ) {
          await new Promise((r) => setTimeout(r, 10));
        }
        expect((await grid.call('DELETE', `/task/${id}`)).status).to.equal(200);
        await new Promise((r) => setTimeout(r, 100));
        expect((await grid.call('GET', `/result/${id}`)).body).to.deep.equal({
          task_id: id,
          status: 'CANCELLED',
        });
      });
    });

    describe('other routes', () => {
      it('accepts a trailing slash on every path', async () => {
        const reply = await grid.call('POST', '/register_function/', {
          name: 'f',
          payload: DOUBLE,
        });
        expect(reply.status).to.equal(201);
        const id = await grid.submit(reply.body.function_id as string, [2]);
        expect((await grid.call('GET', `/status/${id}/`)).status).to.equal(200);
        expect((await grid.call('GET', `/result/${id}/?wait=5000`)).body.status).to.equal(
          'COMPLETED',
        );
        expect((await grid.call('GET', '/healthz/')).status).to.equal(200);
        expect((await grid.call('GET', '/workers/')).status).to.equal(200);
      });
      it('GET /healthz answers 200 with the store kind', async () => {
        const reply = await grid.call('GET', '/healthz');
        expect(reply.status).to.equal(200);
        expect(reply.body).to.include({
          status: 'ok',
          store: store === 'cluster' ? 'redis-cluster' : store,
        });
      });
      it('GET /workers lists the local pool and its load', async () => {
        const reply = await grid.call<Record<string, unknown>[]>('GET', '/workers');
        expect(reply.status).to.equal(200);
        expect(reply.body[0]).to.include({ id: 'local', threads: 2 });
        expect(reply.body[0]).to.have.keys([
          'id',
          'address',
          'threads',
          'in_flight',
          'completed',
          'connected_since',
          'last_heartbeat',
          'draining',
          'labels',
        ]);
      });
      it('GET /workers answers the schema /openapi.json publishes for it', async () => {
        if (!FormatRegistry.Has('date-time')) {
          FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)));
        }
        const reply = await grid.call<unknown>('GET', '/workers');
        const check = TypeCompiler.Compile(WorkersReply);
        expect([...check.Errors(reply.body)].map((e) => `${e.path}: ${e.message}`)).to.deep.equal(
          [],
        );
        const doc = await grid.call<OpenApiPaths>('GET', '/openapi.json');
        const published =
          doc.body.paths['/workers']?.get.responses['200']?.content['application/json']?.schema;
        expect(published).to.deep.equal(JSON.parse(JSON.stringify(WorkersReply)));
      });
      it('404 JSON for an unknown route', async () => {
        const reply = await grid.call('GET', '/nope');
        expect(reply.status).to.equal(404);
        expect(reply.body).to.have.property('error');
      });
    });
  });
}
