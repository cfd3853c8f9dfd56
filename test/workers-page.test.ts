/** GET /workers paginated: the plain array stays, `limit`/`cursor` walk every worker once, bad values answer 400. */

import { expect } from 'chai';
import WebSocket from 'ws';
import type { GridServer } from '../server/grid-server.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import type { WorkerInfo, WorkerPage } from '../shared/worker-info.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { until } from './helpers/wait.js';

const WORKERS = 23;

/** A worker socket that says hello with `id` and resolves once welcomed. */
function worker(server: GridServer, id: string): Promise<WebSocket> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      ws.send(
        JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, threads: 1, worker_id: id }),
      ),
    );
    ws.once('message', () => resolve(ws));
  });
}

describe('GET /workers pages', () => {
  let server: GridServer;
  let grid: GridClient;
  const sockets: WebSocket[] = [];
  // Shuffled, so the id order of the pages is not the connection order.
  const ids = Array.from(
    { length: WORKERS },
    (_, i) => `w-${String((i * 7) % WORKERS).padStart(2, '0')}`,
  );

  before(async () => {
    server = await startInProcess('memory', { mode: 'push' });
    grid = new GridClient(server.url);
    for (const id of ids) sockets.push(await worker(server, id));
    await until(
      async () => (await grid.call<unknown[]>('GET', '/workers')).body.length,
      (n) => n === WORKERS,
      10_000,
    );
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await server.close();
  });

  async function walk(limit: number): Promise<{ pages: WorkerPage[]; seen: string[] }> {
    const pages: WorkerPage[] = [];
    let cursor: string | undefined;
    do {
      const query = `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
      const reply = await grid.call<WorkerPage>('GET', `/workers${query}`);
      expect(reply.status).to.equal(200);
      pages.push(reply.body);
      cursor = reply.body.next_cursor;
    } while (cursor !== undefined);
    return { pages, seen: pages.flatMap((p) => p.workers.map((w) => w.id)) };
  }

  it('without limit or cursor answers the plain array of every worker', async () => {
    const reply = await grid.call<WorkerInfo[]>('GET', '/workers');
    expect(reply.body).to.be.an('array').with.length(WORKERS);
    expect(reply.body.map((w) => w.id)).to.have.members(ids);
  });

  it('walks every worker once, in id order, with total on each page', async () => {
    const { pages, seen } = await walk(5);
    expect(seen).to.deep.equal([...ids].sort());
    expect(pages).to.have.length(Math.ceil(WORKERS / 5));
    for (const page of pages) expect(page.total).to.equal(WORKERS);
    expect(pages.at(-1)).to.not.have.property('next_cursor');
    const one = await grid.call<WorkerPage>('GET', `/workers?limit=${WORKERS}`);
    expect(one.body.workers).to.have.length(WORKERS);
    expect(one.body).to.not.have.property('next_cursor');
  });

  it('limit=1 answers the count without listing everyone', async () => {
    const reply = await grid.call<WorkerPage>('GET', '/workers?limit=1');
    expect(reply.body.total).to.equal(WORKERS);
    expect(reply.body.workers.map((w) => w.id)).to.deep.equal(['w-00']);
    expect(reply.body.next_cursor).to.be.a('string');
  });

  it('a cursor alone pages by 100, and a worker gone mid-walk does not break the walk', async () => {
    const first = await grid.call<WorkerPage>('GET', '/workers?limit=3');
    const cursor = first.body.next_cursor as string;
    // The worker the cursor names leaves; the walk goes on after its id.
    const leaving = sockets[ids.indexOf('w-02')] as WebSocket;
    leaving.terminate();
    await until(
      async () => (await grid.call<WorkerPage>('GET', '/workers?limit=1')).body.total,
      (n) => n === WORKERS - 1,
      10_000,
    );
    const rest = await grid.call<WorkerPage>('GET', `/workers?cursor=${cursor}`);
    expect(rest.body.workers.map((w) => w.id)).to.deep.equal(
      [...ids].sort().filter((id) => id > 'w-02'),
    );
    expect(rest.body.total).to.equal(WORKERS - 1);
  });

  it('400 for a limit out of 1…1000, not a number, repeated, or a malformed cursor', async () => {
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=abc',
      'limit=-1',
      'limit=1.5',
      'limit=1&limit=2',
      'cursor=',
      'cursor=a%2Fb',
      `cursor=${'a'.repeat(400)}`,
    ]) {
      const reply = await grid.call<{ error: { code: string } }>('GET', `/workers?${query}`);
      expect(reply.status, query).to.equal(400);
      expect(reply.body.error.code, query).to.equal('TG_BAD_PAYLOAD');
    }
  });
});
