/**
 * Defect 8: a web page must not drive a grid that has no token. Non-JSON
 * bodies answer 415; a foreign Origin or a rebound Host answers 403, on REST
 * and at the socket upgrade; nothing is stored meanwhile. The same-origin
 * dashboard keeps working, and a real Chromium page from another origin
 * gets nothing done.
 */

import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { type Browser, chromium } from 'playwright-core';
import { createClient } from 'redis';
import WebSocket from 'ws';
import type { GridServer } from '../server/grid-server.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { testRedis } from './helpers/root-hooks.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HELLO = JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, threads: 1 });
const BODY = JSON.stringify({ name: 'evil', payload: '() => 1' });

/** Function records stored under this server's Redis prefix. */
async function storedFunctions(server: GridServer): Promise<number> {
  if (server.config.store.kind !== 'redis') throw new Error('needs the Redis store');
  const client = createClient({ url: testRedis().url });
  await client.connect();
  try {
    return (await client.keys(`${server.config.store.prefix}fn:*`)).length;
  } finally {
    await client.close();
  }
}

async function post(
  server: GridServer,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: { error?: { code: string } } }> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body, headers });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

/** A request with a Host header of our choosing (fetch will not send one). */
function getWithHost(server: GridServer, path: string, host: string): Promise<number> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

/** Opens a socket; resolves with 101 or the HTTP status it was refused with. */
function upgradeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.on('error', () => {});
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
  });
}

describe('security: what a web page can do (defect 8)', () => {
  describe('REST without a token', () => {
    let server: GridServer;
    let grid: GridClient;
    before(async () => {
      server = await startInProcess('redis', { mode: 'push' });
      grid = new GridClient(server.url);
    });
    after(async () => {
      await server.close();
    });

    it('answers a text/plain POST with 415 and stores nothing', async () => {
      const reply = await post(server, '/register_function', BODY, {
        'content-type': 'text/plain',
      });
      expect(reply.status).to.equal(415);
      expect(reply.body.error?.code).to.equal('TG_UNSUPPORTED_MEDIA_TYPE');
      expect(await storedFunctions(server)).to.equal(0);
    });

    it('answers form bodies and bodies with no type with 415, and queues nothing', async () => {
      const fn = await grid.register('n => n');
      const body = JSON.stringify({ function_id: fn, payload: '[1]' });
      for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        expect(
          (await post(server, '/execute_function', body, { 'content-type': type })).status,
        ).to.equal(415);
      }
      // A body without a Content-Type (fetch sends text/plain for a string: use a Blob with none).
      const res = await fetch(`${server.url}/execute_function`, {
        method: 'POST',
        body: new Blob([body]),
      });
      expect(res.status).to.equal(415);
      const health = (await grid.call<{ queue_depth: number }>('GET', '/healthz')).body;
      expect(health.queue_depth).to.equal(0);
    });

    it('takes application/json with a charset', async () => {
      const reply = await post(server, '/register_function', BODY, {
        'content-type': 'application/json; charset=utf-8',
      });
      expect(reply.status).to.equal(201);
    });

    it('answers a POST with a foreign Origin with 403 and stores nothing', async () => {
      const before = await storedFunctions(server);
      for (const origin of ['http://evil.example', 'null', server.url.replace(/:\d+$/, ':1')]) {
        const reply = await post(server, '/register_function', BODY, {
          'content-type': 'application/json',
          origin,
        });
        expect(reply.status, origin).to.equal(403);
        expect(reply.body.error?.code).to.equal('TG_FORBIDDEN_ORIGIN');
      }
      const res = await fetch(`${server.url}/workers`, {
        headers: { origin: 'http://evil.example' },
      });
      expect(res.status).to.equal(403);
      expect(await storedFunctions(server)).to.equal(before);
    });

    it('takes a request from its own origin (the dashboard page)', async () => {
      const reply = await post(server, '/register_function', BODY, {
        'content-type': 'application/json',
        origin: server.url,
      });
      expect(reply.status).to.equal(201);
    });

    it('answers a Host that is not a loopback name with 403 (DNS rebinding)', async () => {
      const port = new URL(server.url).port;
      expect(await getWithHost(server, '/healthz', `evil.example:${port}`)).to.equal(403);
      expect(await getWithHost(server, '/healthz', `localhost:${port}`)).to.equal(200);
      expect(await getWithHost(server, '/healthz', `127.0.0.1:${port}`)).to.equal(200);
    });

    it('refuses a socket upgrade from a foreign origin with 403, on /ws and /ws/client', async () => {
      const ws = server.url.replace('http', 'ws');
      expect(await upgradeStatus(`${ws}/ws`, { origin: 'http://evil.example' })).to.equal(403);
      expect(await upgradeStatus(`${ws}/ws/client`, { origin: 'http://evil.example' })).to.equal(
        403,
      );
      expect(await upgradeStatus(`${ws}/ws`, { headers: { host: 'evil.example' } })).to.equal(403);
      expect(server.dispatcher.workers()).to.have.length(0);
      // Workers and the SDK send no Origin; a page of the grid's own origin is its own.
      expect(await upgradeStatus(`${ws}/ws`)).to.equal(101);
      expect(await upgradeStatus(`${ws}/ws/client`, { origin: server.url })).to.equal(101);
    });
  });

  describe('REST with a token', () => {
    let server: GridServer;
    before(async () => {
      server = await startInProcess('memory', { mode: 'push', token: 'tok' });
    });
    after(async () => {
      await server.close();
    });

    it('leaves Origin to the token (a page cannot send the header), but still wants JSON', async () => {
      const headers = { authorization: 'Bearer tok', origin: 'http://tool.example' };
      expect(
        (
          await post(server, '/register_function', BODY, {
            ...headers,
            'content-type': 'application/json',
          })
        ).status,
      ).to.equal(201);
      expect(
        (
          await post(server, '/register_function', BODY, {
            ...headers,
            'content-type': 'text/plain',
          })
        ).status,
      ).to.equal(415);
      // Without the token the answer is 401 before the body type is even looked at.
      expect(
        (await post(server, '/register_function', BODY, { 'content-type': 'text/plain' })).status,
      ).to.equal(401);
    });
  });

  describe('in a real browser (headless Chromium)', function () {
    this.timeout(60_000);
    let browser: Browser;
    let server: GridServer;
    let evil: Server;
    let evilUrl: string;

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        if (process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM}`);
        this.skip();
      }
      server = await startInProcess('redis', { mode: 'push' });
      // The attacker's page: any other origin, here another port on the same machine.
      evil = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end('<!doctype html><title>evil</title>');
      });
      evil.listen(0, '127.0.0.1');
      await new Promise((resolve) => evil.once('listening', resolve));
      evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
    });
    after(async () => {
      await browser?.close();
      evil?.close();
      await server?.close();
    });

    it('a page from another origin can neither register a function nor open a worker or client socket', async () => {
      const page = await browser.newPage();
      await page.goto(evilUrl);
      const grid = server.url;
      // Runs in the page. A no-cors text/plain POST is a "simple" request: no preflight.
      const outcome = (await page.evaluate(`(async () => {
        const out = {};
        try {
          await fetch('${grid}/register_function', {
            method: 'POST', mode: 'no-cors',
            headers: { 'content-type': 'text/plain' },
            body: ${JSON.stringify(BODY)},
          });
          out.post = 'sent';
        } catch (e) { out.post = String(e); }
        const socket = (path, first) => new Promise((resolve) => {
          const got = [];
          const ws = new WebSocket('${grid.replace('http', 'ws')}' + path);
          ws.onopen = () => ws.send(first);
          ws.onmessage = (m) => got.push(String(m.data).slice(0, 100));
          ws.onclose = (e) => resolve({ code: e.code, got });
          setTimeout(() => resolve({ code: 'open', got }), 3000);
        });
        out.worker = await socket('/ws', ${JSON.stringify(HELLO)});
        out.client = await socket('/ws/client', '{"type":"watch"}');
        return out;
      })()`)) as {
        post: string;
        worker: { code: number | string; got: string[] };
        client: { code: number | string; got: string[] };
      };
      console.log(`      page outcome: ${JSON.stringify(outcome)}`);
      expect(await storedFunctions(server)).to.equal(0);
      expect(outcome.worker.got).to.deep.equal([]);
      expect(outcome.client.got).to.deep.equal([]);
      // Refused at the upgrade: the browser reports an abnormal closure.
      expect(outcome.worker.code).to.equal(1006);
      expect(outcome.client.code).to.equal(1006);
      expect(server.dispatcher.workers()).to.have.length(0);
    });

    it('the dashboard, from the grid itself and with no token, still goes live', async () => {
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForSelector('#status:text("live")', { timeout: 10_000 });
    });
  });
});
