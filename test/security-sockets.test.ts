/**
 * Defect 13: sockets read nothing large before authentication, refuse
 * frames that would be costly to parse, and cap connections. Each case runs
 * against a real server; the numbers printed are measurements, not asserts.
 */

import { expect } from 'chai';
import WebSocket from 'ws';
import type { GridServer } from '../server/grid-server.js';
import { defaultConfig } from '../server/server-config.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, type ServerProcess, startServer } from './helpers/processes.js';
import { rawUpgrade, rssMiB, streamFrame, textFrame } from './helpers/raw-socket.js';

const MiB = 1024 * 1024;
const HELLO = JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, threads: 1 });

function wsUrl(server: GridServer, path: string): string {
  return `${server.url.replace('http', 'ws')}${path}`;
}

/** Resolves with the close code and reason of a socket (1006 if it never opened). */
function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    ws.on('error', () => {});
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

/** Polls /healthz until `until` settles; returns every latency seen (ms) and each status. */
async function healthzDuring(
  url: string,
  until: Promise<unknown>,
): Promise<{ statuses: number[]; worstMs: number }> {
  let settled = false;
  void until.finally(() => {
    settled = true;
  });
  const statuses: number[] = [];
  let worstMs = 0;
  do {
    const start = performance.now();
    const res = await fetch(`${url}/healthz`);
    await res.text();
    worstMs = Math.max(worstMs, performance.now() - start);
    statuses.push(res.status);
  } while (!settled);
  return { statuses, worstMs: Math.round(worstMs) };
}

describe('security: sockets (defect 13)', () => {
  describe('a 60 MiB first frame is not read', () => {
    afterEach(killAll);

    for (const token of ['tok', undefined]) {
      it(`closes the socket before the upload completes and the server's RSS stays low (${token ? 'with' : 'without'} a token)`, async () => {
        const server: ServerProcess = await startServer([
          '--mode',
          'push',
          '--store',
          'memory',
          ...(token ? ['--token', token] : []),
        ]);
        const pid = server.child.pid as number;
        const before = rssMiB(pid);
        const { socket, status } = await rawUpgrade(server.url, '/ws');
        expect(status).to.equal(101);
        const prefix = `{"type":"hello","version":${PROTOCOL_VERSION},"threads":1,"name":"`;
        const sent = await streamFrame(socket, prefix, 60 * MiB);
        const after = rssMiB(pid);
        console.log(
          `      60 MiB hello: ${(sent.written / MiB).toFixed(1)} MiB taken by the socket before it closed; server RSS ${before} → ${after} MiB`,
        );
        expect(sent.complete, 'the upload completed').to.equal(false);
        // Reading and parsing the frame took it past 120 MiB more before.
        expect(after - before).to.be.below(40);
        const health = await fetch(`${server.url}/healthz`);
        expect(health.status).to.equal(200);
      });
    }
  });

  describe('the token at the upgrade', () => {
    let server: GridServer;
    before(async () => {
      server = await startInProcess('memory', { mode: 'push', token: 'tok' });
    });
    after(async () => {
      await server.close();
    });

    it('answers a wrong bearer token with HTTP 401 and a JSON error, with no socket', async () => {
      const { status, response } = await rawUpgrade(server.url, '/ws', {
        Authorization: 'Bearer nope',
      });
      expect(status).to.equal(401);
      expect(response).to.match(/"code":"TG_UNAUTHORIZED"/);
      expect(server.dispatcher.workers()).to.have.length(0);
    });

    it('welcomes a worker whose token came in the header, with none in the hello', async () => {
      const ws = new WebSocket(wsUrl(server, '/ws'), { headers: { authorization: 'Bearer tok' } });
      const first = await new Promise<{ type: string }>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () => ws.send(HELLO));
        ws.once('message', (data) => resolve(JSON.parse(data.toString())));
      });
      expect(first.type).to.equal('welcome');
      ws.close();
    });

    it('still takes the token in the hello (workers that send no header)', async () => {
      const ws = new WebSocket(wsUrl(server, '/ws'));
      const first = await new Promise<{ type: string }>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () => ws.send(JSON.stringify({ ...JSON.parse(HELLO), token: 'tok' })));
        ws.once('message', (data) => resolve(JSON.parse(data.toString())));
      });
      expect(first.type).to.equal('welcome');
      ws.close();
    });
  });

  describe('frames that would be costly to parse', () => {
    let server: GridServer;
    before(async () => {
      server = await startInProcess('memory', { mode: 'push' });
    });
    after(async () => {
      await server.close();
    });

    const nested = `${'['.repeat(2 * MiB)}${']'.repeat(2 * MiB)}`;

    it('refuses a 4 MB nested-array frame from a worker unparsed (4400) while /healthz answers', async () => {
      const ws = new WebSocket(wsUrl(server, '/ws'));
      const welcomed = new Promise<void>((resolve) => ws.once('message', () => resolve()));
      ws.once('open', () => ws.send(HELLO));
      await welcomed;
      const end = closed(ws);
      ws.send(nested);
      const health = await healthzDuring(server.url, end);
      const { code, reason } = await end;
      console.log(
        `      nested frame: closed ${code} "${reason}"; worst /healthz ${health.worstMs} ms`,
      );
      expect(code).to.equal(4400);
      expect(reason).to.match(/refused unparsed: it nests deeper than/);
      expect(health.statuses.every((s) => s === 200)).to.equal(true);
    });

    it('refuses a frame of more than a million values unparsed (4400)', async () => {
      const ws = new WebSocket(wsUrl(server, '/ws'));
      const welcomed = new Promise<void>((resolve) => ws.once('message', () => resolve()));
      ws.once('open', () => ws.send(HELLO));
      await welcomed;
      const end = closed(ws);
      ws.send(`{"type":"results","results":[${'0,'.repeat(2 * MiB)}0]}`);
      const { code, reason } = await end;
      expect(code).to.equal(4400);
      expect(reason).to.match(/refused unparsed: it holds more than/);
    });

    it('refuses a nested frame on /ws/client the same way, and the server serves on', async () => {
      const ws = new WebSocket(wsUrl(server, '/ws/client'));
      await new Promise((resolve) => ws.once('open', resolve));
      const end = closed(ws);
      ws.send(`{"type":"subscribe","ids":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
      const { code, reason } = await end;
      expect(code).to.equal(4400);
      expect(reason).to.match(/refused unparsed/);
      expect((await fetch(`${server.url}/healthz`)).status).to.equal(200);
    });

    it('a hello sent in one piece with the frame after it is welcomed (the pre-hello count stops at the hello)', async () => {
      const { socket, status } = await rawUpgrade(server.url, '/ws');
      expect(status).to.equal(101);
      const big = JSON.stringify({ type: 'pull', max: 1, pad: 'x'.repeat(200 * 1024) });
      // Hello and a 200 KB frame in one write: only the hello counts against the 64 KiB.
      socket.write(Buffer.concat([textFrame(HELLO), textFrame(big)]));
      const text = await new Promise<string>((resolve) => {
        let seen = '';
        socket.on('data', (d: Buffer) => {
          seen += d.toString('latin1');
          if (seen.includes('welcome')) resolve(seen);
        });
        socket.once('close', () => resolve(seen));
      });
      expect(text).to.include('"type":"welcome"');
      socket.destroy();
    });
  });

  describe('connection caps', () => {
    let server: GridServer;
    const open: WebSocket[] = [];
    before(async () => {
      const limits = { ...defaultConfig().limits, connections: 3, connectionsPerIp: 2 };
      server = await startInProcess('memory', { mode: 'push', limits });
    });
    after(async () => {
      for (const ws of open) ws.terminate();
      await server.close();
    });

    const from = (ip: string, path = '/ws/client') =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(wsUrl(server, path), { localAddress: ip });
        ws.on('error', () => {});
        ws.once('open', () => {
          open.push(ws);
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
      });

    it('answers 429 past the per-address cap and 503 past the total, on /ws and /ws/client alike', async () => {
      expect(await from('127.0.0.1')).to.equal(101);
      expect(await from('127.0.0.1', '/ws')).to.equal(101);
      expect(await from('127.0.0.1')).to.equal(429);
      expect(await from('127.0.0.2', '/ws')).to.equal(101);
      expect(await from('127.0.0.3')).to.equal(503);
      expect(await from('127.0.0.3', '/ws')).to.equal(503);
    });

    it('frees a place when a socket closes', async () => {
      const first = open.shift() as WebSocket;
      const gone = closed(first);
      first.close();
      await gone;
      // The server counts the close when its side of the TCP socket closes; try until it has.
      let status = 0;
      for (let i = 0; i < 50 && status !== 101; i++) {
        status = await from('127.0.0.3');
        if (status !== 101) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).to.equal(101);
    });

    it('says how long to wait before retrying', async () => {
      const { status, response } = await rawUpgrade(server.url, '/ws/client');
      expect(status).to.be.oneOf([429, 503]);
      expect(response).to.match(/Retry-After: 1/);
      expect(response).to.match(/"code":"TG_(TOO_MANY|UNAVAILABLE)"/);
    });
  });
});
