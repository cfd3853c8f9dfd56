/**
 * POST /execute_function is answered without Express (fast-execute.ts).
 * Every answer it gives must be the one the Express route gives: each
 * request below goes to `/execute_function` (the fast path) and to
 * `/Execute_Function` (Express: its router ignores case), and the two
 * answers must match, status, body and Retry-After alike. A request the fast
 * path does not take (a charset in another spelling, no declared length)
 * still gets the Express answer.
 */

import { request } from 'node:http';
import { connect } from 'node:net';
import { expect } from 'chai';
import type { GridServer } from '../server/grid-server.js';
import { defaultConfig } from '../server/server-config.js';
import { startInProcess } from './helpers/in-process.js';

interface Answer {
  status: number;
  body: unknown;
  retryAfter: string | undefined;
}

type Headers = Record<string, string>;

function send(
  base: string,
  path: string,
  body: string | undefined,
  headers: Headers,
): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        headers,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text) as unknown,
            retryAfter: res.headers['retry-after'],
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A body with its length declared, as JSON. */
function json(body: unknown): { text: string; headers: Headers } {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    text,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    },
  };
}

/** Task ids differ between the two calls; everything else must not. */
function shape(answer: Answer): unknown {
  return JSON.parse(
    JSON.stringify(answer).replace(
      /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
      '<id>',
    ),
  );
}

describe('POST /execute_function without Express answers as the Express route does', function () {
  this.timeout(30_000);
  for (const token of [undefined, 'fast-token']) {
    describe(token ? 'with a token' : 'without a token', () => {
      let server: GridServer;
      let fn: string;
      const auth: Headers = token ? { authorization: `Bearer ${token}` } : {};

      before(async () => {
        server = await startInProcess('memory', {
          ...(token ? { token } : {}),
          limits: {
            ...defaultConfig().limits,
            bodyBytes: 4096,
          },
        });
        const reg = json({ name: 'double', payload: '(n) => n * 2' });
        const reply = await send(server.url, '/register_function', reg.text, {
          ...reg.headers,
          ...auth,
        });
        fn = (reply.body as { function_id: string }).function_id;
      });
      after(() => server.close());

      const cases: [string, () => { path: string; text?: string; headers: Headers }][] = [
        [
          'a plain submit',
          () => ({ path: '', ...withAuth(json({ function_id: fn, payload: '[2]' })) }),
        ],
        [
          'a submit that waits for its result',
          () => ({ path: '?wait=5000', ...withAuth(json({ function_id: fn, payload: '[3]' })) }),
        ],
        [
          'a repeated idempotency key',
          () => ({
            path: '',
            ...withAuth(json({ function_id: fn, payload: '[4]', idempotency_key: 'k-1' })),
          }),
        ],
        [
          'a malformed wait',
          () => ({ path: '?wait=soon', ...withAuth(json({ function_id: fn, payload: '[1]' })) }),
        ],
        [
          'a repeated wait',
          () => ({
            path: '?wait=1&wait=2',
            ...withAuth(json({ function_id: fn, payload: '[1]' })),
          }),
        ],
        ['a body that is not JSON', () => ({ path: '', ...withAuth(json('{"function_id": ')) })],
        ['a body missing a field', () => ({ path: '', ...withAuth(json({ payload: '[1]' })) })],
        [
          'a payload that is not an array',
          () => ({ path: '', ...withAuth(json({ function_id: fn, payload: '7' })) }),
        ],
        [
          'an unknown function',
          () => ({
            path: '',
            ...withAuth(
              json({ function_id: '00000000-0000-4000-8000-000000000000', payload: '[1]' }),
            ),
          }),
        ],
        [
          'a body over the limit',
          () => ({
            path: '',
            ...withAuth(json({ function_id: fn, payload: `["${'x'.repeat(5000)}"]` })),
          }),
        ],
        [
          'a foreign Origin',
          () => ({
            path: '',
            ...withAuth(json({ function_id: fn, payload: '[1]' }), {
              origin: 'http://evil.example',
            }),
          }),
        ],
        [
          'a wrong token',
          () => ({
            path: '',
            ...json({ function_id: fn, payload: '[1]' }),
            headers: { ...json('{}').headers, authorization: 'Bearer nope' },
          }),
        ],
      ];
      function withAuth(body: { text: string; headers: Headers }, extra: Headers = {}) {
        return { text: body.text, headers: { ...body.headers, ...auth, ...extra } };
      }

      // A wrong token means something only where one is required.
      for (const [name, make] of cases.filter(([name]) => token || name !== 'a wrong token')) {
        it(name, async () => {
          const { path, text, headers } = make();
          if (headers['content-length'] !== undefined && text !== undefined) {
            headers['content-length'] = String(Buffer.byteLength(text));
          }
          // A repeated key: stored once first, then both paths must answer the repeat alike.
          if (name === 'a repeated idempotency key') {
            expect(
              (await send(server.url, `/execute_function${path}`, text, headers)).status,
            ).to.equal(201);
          }
          const fast = await send(server.url, `/execute_function${path}`, text, headers);
          const express = await send(server.url, `/Execute_Function${path}`, text, headers);
          expect(shape(fast)).to.deep.equal(shape(express));
        });
      }

      it('a client that goes away mid-body leaves the server answering others', async () => {
        const url = new URL(server.url);
        const socket = connect(Number(url.port), url.hostname);
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(
          'POST /execute_function HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
            `${token ? `Authorization: Bearer ${token}\r\n` : ''}Content-Length: 1000\r\n\r\n{"function_id":`,
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.destroy();
        const after = json({ function_id: fn, payload: '[6]' });
        const reply = await send(server.url, '/execute_function?wait=5000', after.text, {
          ...after.headers,
          ...auth,
        });
        expect(reply.status).to.equal(200);
        expect(reply.body).to.include({ status: 'COMPLETED', result: '12' });
      });

      it('leaves a request it does not take to Express, which answers it', async () => {
        const body = JSON.stringify({ function_id: fn, payload: '[5]' });
        const chunked = await send(server.url, '/execute_function', body, {
          'content-type': 'application/json; charset=UTF-8',
          'transfer-encoding': 'chunked',
          ...auth,
        });
        expect(chunked.status).to.equal(201);
        const text = await send(server.url, '/execute_function', body, {
          'content-type': 'text/plain',
          'content-length': String(body.length),
          ...auth,
        });
        expect(text.status).to.equal(415);
      });
    });
  }
});
