/**
 * Fair dispatch across tenants, end to end (issue 13's figure): tenant A
 * holds 100,000 queued no-op tasks, tenant B then submits 100; with equal
 * weights, B's 100 finish before A has run 10% of its backlog. Push mode,
 * so everything is queued before a worker (taking every tenant's tasks)
 * connects; counted from the stored finish times.
 */

import { expect } from 'chai';
import { pino } from 'pino';
import type { GridServer } from '../server/grid-server.js';
import type { TokenEntry } from '../server/tenants.js';
import { TaskgridWorker } from '../worker/worker-client.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';

const TOKENS: TokenEntry[] = [
  { role: 'client', token: 'tenant-a-token', tenant: 'a', weight: 1 },
  { role: 'client', token: 'tenant-b-token', tenant: 'b', weight: 1 },
  { role: 'worker', token: 'any-worker-token', tenant: undefined },
];
const BACKLOG = 100_000;
const SMALL = 100;

describe('fair shares across tenants (redis store, push mode)', function () {
  this.timeout(180_000);
  let server: GridServer;
  let worker: TaskgridWorker | undefined;
  after(async () => {
    await worker?.close();
    await server?.close();
  });

  it(`runs B's ${SMALL} tasks before A has run 10% of its ${BACKLOG.toLocaleString('en')} queued`, async () => {
    server = await startInProcess('redis', { mode: 'push', tokens: TOKENS });
    const a = new GridClient(server.url, 'tenant-a-token');
    const b = new GridClient(server.url, 'tenant-b-token');
    const fa = await a.register('() => 0');
    const fb = await b.register('() => 1');
    for (let i = 0; i < BACKLOG; i += 10_000) {
      await a.batch(
        fa,
        Array.from({ length: 10_000 }, () => []),
      );
    }
    const small = await b.batch(
      fb,
      Array.from({ length: SMALL }, () => []),
    );
    worker = new TaskgridWorker({
      url: `${server.url.replace(/^http/, 'ws')}/ws`,
      token: 'any-worker-token',
      threads: 2,
      log: pino({ level: 'silent' }),
    });
    await worker.start();
    let lastOfB = 0;
    for (const id of small) {
      expect((await b.wait(id, 60_000)).status).to.equal('COMPLETED');
      const t = await b.call<{ finished_at: number }>('GET', `/task/${id}`);
      lastOfB = Math.max(lastOfB, t.body.finished_at);
    }
    // A's tasks that finished by then, from its own listing (newest first, so page to the end).
    let aDone = 0;
    let cursor: string | undefined;
    do {
      const page = await a.call<{ tasks: { finished_at?: number }[]; next_cursor?: string }>(
        'GET',
        `/tasks?status=COMPLETED&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
      );
      for (const t of page.body.tasks) if ((t.finished_at ?? Infinity) <= lastOfB) aDone++;
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(aDone, `A ran ${aDone} before B's ${SMALL} were done`).to.be.below(BACKLOG / 10);
  });
});
