/**
 * Audit regressions (issue 11) on leases and deadlines, with real processes
 * on the test Redis: a server frozen past its liveness TTL while a peer
 * requeues its task (defect 1), a worker that never answers (defect 1: the
 * server owns the deadline), a graceful shutdown that must not count as an
 * attempt (defect 11), a function's timeout that must survive the Redis
 * store (defect 12), and stale leases the lease keeper must find however
 * many leases sort before them (suspected in the audit).
 */

import { expect } from 'chai';
import { v4 as uuidv4 } from 'uuid';
import { RedisStore } from '../server/store/redis-store.js';
import type { NewTask } from '../server/store/task-store.js';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import { killAll, startServer, startWorker, stop } from './helpers/processes.js';
import { RedisAdmin } from './helpers/redis-admin.js';
import { freePort } from './helpers/redis-server.js';
import { RogueWorker } from './helpers/rogue-worker.js';
import { redisFlags, testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { sleep, until } from './helpers/wait.js';

interface WorkerRow {
  in_flight: number;
}

async function statusOf(grid: GridClient, id: string): Promise<string> {
  return (await grid.call<{ status: string }>('GET', `/status/${id}`)).body.status;
}

async function registerWithTimeout(grid: GridClient, source: string, timeoutMs: number) {
  const reply = await grid.call<{ function_id: string }>('POST', '/register_function', {
    name: 'slow',
    payload: source,
    timeout_ms: timeoutMs,
  });
  expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
  return reply.body.function_id;
}

function errorName(body: { result?: string }): string | undefined {
  if (body.result === undefined) return undefined;
  return (deserialize(body.result) as { name?: string }).name;
}

describe('audit: leases and deadlines', function () {
  this.timeout(60_000);
  let admin: RedisAdmin;
  before(async () => {
    admin = await RedisAdmin.connect(testRedis().url);
  });
  after(async () => {
    await admin.close();
  });
  afterEach(killAll);

  it('defect 1: a server frozen past its liveness TTL while a peer requeues its task still ends the task, and frees its worker', async function () {
    this.timeout(75_000);
    const prefix = uniquePrefix();
    const args = ['--mode', 'push', ...redisFlags(prefix), '--lease', '5000'];
    const a = await startServer(args);
    const b = await startServer(args);
    await startWorker(a.wsUrl, ['--threads', '1']);
    const viaA = new GridClient(a.url);
    const viaB = new GridClient(b.url);
    const fn = await viaA.register(
      "async () => { await new Promise(r => setTimeout(r, 12000)); return 'done' }",
    );
    // The second attempt may wait for the first on the worker's one thread (about 24 s in
    // all): a 30 s timeout leaves COMPLETED as the only right ending.
    const id = await viaA.submit(fn, [], 30_000);
    expect(
      await until(
        () => statusOf(viaA, id),
        (s) => s === 'RUNNING',
        5000,
      ),
    ).to.equal('RUNNING');
    // Longer than A's liveness key lives (3 ticks of 1 s): B requeues A's task meanwhile.
    a.child.kill('SIGSTOP');
    await sleep(5000);
    a.child.kill('SIGCONT');
    // Bound: timeout 30 s + lease 5 s + a grace, from the submit.
    const body = await viaB.wait(id, 45_000);
    expect(body.status, `task ${id} after the freeze`).to.equal('COMPLETED');
    expect(deserialize(body.result as string)).to.equal('done');
    const rows = await until(
      async () => (await viaA.call<WorkerRow[]>('GET', '/workers')).body,
      (r) => r.every((w) => w.in_flight === 0),
      5000,
    );
    expect(rows.map((w) => w.in_flight)).to.deep.equal([0]);
  });

  it("defect 1: a worker that takes a task and never answers (but answers pings) cannot keep it RUNNING: the server's deadline fails it with TimeoutError", async () => {
    const server = await startServer(['--mode', 'push', ...redisFlags(), '--lease', '3000']);
    const grid = new GridClient(server.url);
    const rogue = await RogueWorker.connect(server.wsUrl);
    try {
      const fn = await grid.register('(n) => n * 2');
      const id = await grid.submit(fn, [1], 2000);
      await rogue.received(1);
      // timeout_ms 2 s + lease 3 s + grace.
      const body = await grid.wait(id, 15_000);
      expect(body.status, `task ${id} held by a silent worker`).to.equal('FAILED');
      expect(errorName(body)).to.equal('TimeoutError');
    } finally {
      await rogue.close();
    }
  });

  it('defect 11: a SIGTERM drain is not an attempt: with --max-attempts 2, drain + restart + one worker kill -9 still completes the task', async () => {
    const prefix = uniquePrefix();
    const port = String(await freePort());
    const args = ['--mode', 'push', ...redisFlags(prefix), '--port', port, '--max-attempts', '2'];
    const first = await startServer(args);
    const grid = new GridClient(first.url);
    const worker = await startWorker(first.wsUrl, ['--threads', '1']);
    const fn = await grid.register(
      "async () => { await new Promise(r => setTimeout(r, 4000)); return 'done' }",
    );
    const id = await grid.submit(fn, []);
    expect(
      await until(
        () => statusOf(grid, id),
        (s) => s === 'RUNNING',
        5000,
      ),
    ).to.equal('RUNNING');
    expect(await stop(first, 'SIGTERM')).to.equal(0);
    const second = await startServer(args);
    expect(second.url).to.equal(first.url);
    // The worker reconnects by itself and gets the task again.
    expect(
      await until(
        () => statusOf(grid, id),
        (s) => s === 'RUNNING',
        20_000,
      ),
    ).to.equal('RUNNING');
    worker.child.kill('SIGKILL');
    await worker.exited;
    await startWorker(second.wsUrl, ['--threads', '1']);
    const body = await grid.wait(id, 20_000);
    expect(body, `task ${id} (stored: ${JSON.stringify(await admin.task(prefix, id))})`).to.include(
      { status: 'COMPLETED' },
    );
    expect(deserialize(body.result as string)).to.equal('done');
  });

  it("defect 12: a function's timeout_ms holds on a peer server sharing the Redis", async () => {
    const prefix = uniquePrefix();
    const a = await startServer(['--mode', 'push', ...redisFlags(prefix)]);
    const b = await startServer(['--mode', 'local', '--threads', '1', ...redisFlags(prefix)]);
    const fn = await registerWithTimeout(
      new GridClient(a.url),
      "async () => { await new Promise(r => setTimeout(r, 2000)); return 'late' }",
      500,
    );
    const viaB = new GridClient(b.url);
    const body = await viaB.wait(await viaB.submit(fn, []), 15_000);
    expect(body.status).to.equal('FAILED');
    expect(errorName(body)).to.equal('TimeoutError');
  });

  it("defect 12: a function's timeout_ms holds after its server restarts", async () => {
    const port = String(await freePort());
    const args = ['--mode', 'local', '--threads', '1', ...redisFlags(), '--port', port];
    const first = await startServer(args);
    const grid = new GridClient(first.url);
    const fn = await registerWithTimeout(
      grid,
      "async () => { await new Promise(r => setTimeout(r, 2000)); return 'late' }",
      500,
    );
    expect(await stop(first, 'SIGTERM')).to.equal(0);
    await startServer(args);
    const body = await grid.wait(await grid.submit(fn, []), 15_000);
    expect(body.status).to.equal('FAILED');
    expect(errorName(body)).to.equal('TimeoutError');
  });

  describe('stale leases (suspected)', () => {
    const stores: RedisStore[] = [];
    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close();
    });

    async function storeAs(prefix: string, instanceId: string): Promise<RedisStore> {
      const store = new RedisStore({ url: testRedis().url, prefix, instanceId });
      await store.connect();
      stores.push(store);
      return store;
    }

    async function plantFunction(store: RedisStore): Promise<string> {
      const id = uuidv4();
      await store.registerFunction({ id, name: 'inc', source: '(n) => n + 1', created_at: 0 });
      return id;
    }

    function newTasks(fn: string, count: number): NewTask[] {
      const now = Date.now();
      return Array.from({ length: count }, (_, i) => ({
        id: uuidv4(),
        function_id: fn,
        args: JSON.stringify([i]),
        timeout_ms: 60_000,
        created_at: now,
      }));
    }

    async function statuses(prefix: string, ids: string[]): Promise<Map<string, number>> {
      const counts = new Map<string, number>();
      const rows = await Promise.all(ids.map((id) => admin.task(prefix, id)));
      for (const row of rows)
        counts.set(row.status ?? '-', (counts.get(row.status ?? '-') ?? 0) + 1);
      return counts;
    }

    it('a dead instance whose leases sort after 1,000 live ones still has all of them requeued and run', async () => {
      const prefix = uniquePrefix();
      const liveId = uuidv4();
      const deadId = uuidv4();
      const live = await storeAs(prefix, liveId);
      const dead = await storeAs(prefix, deadId);
      const fn = await plantFunction(live);
      await live.heartbeat(liveId, 120_000);
      const liveTasks = newTasks(fn, 1000);
      await live.enqueue(liveTasks);
      expect((await live.claim(1000, `${liveId}/w`, 60_000)).tasks).to.have.length(1000);
      // The dead instance never wrote a liveness key; its leases end later than the live ones.
      const deadTasks = newTasks(fn, 500);
      await dead.enqueue(deadTasks);
      expect((await dead.claim(500, `${deadId}/w`, 120_000)).tasks).to.have.length(500);

      await startServer(['--mode', 'local', '--threads', '2', ...redisFlags(prefix)]);
      const deadIds = deadTasks.map((t) => t.id);
      const seen = await until(
        () => statuses(prefix, deadIds),
        (s) => s.get('COMPLETED') === 500,
        20_000,
        250,
      );
      expect(Object.fromEntries(seen), 'the dead instance’s 500 tasks').to.deep.equal({
        COMPLETED: 500,
      });
      const liveSeen = await statuses(
        prefix,
        liveTasks.map((t) => t.id),
      );
      expect(Object.fromEntries(liveSeen), 'the live instance keeps its tasks').to.deep.equal({
        RUNNING: 1000,
      });
    });

    it('1,000 expired leases whose task hash is gone do not hide a dead instance’s task', async () => {
      const prefix = uniquePrefix();
      const deadId = uuidv4();
      const dead = await storeAs(prefix, deadId);
      const fn = await plantFunction(dead);
      const past = Date.now() - 10_000;
      await admin.zAdd(
        `${prefix}leases`,
        Array.from({ length: 1000 }, () => ({ score: past, value: uuidv4() })),
      );
      const [task] = newTasks(fn, 1);
      await dead.enqueue([task as NewTask]);
      expect((await dead.claim(1, `${deadId}/w`, 60_000)).tasks).to.have.length(1);

      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '1',
        ...redisFlags(prefix),
      ]);
      const body = await new GridClient(server.url).wait((task as NewTask).id, 15_000);
      expect(body.status).to.equal('COMPLETED');
      expect(deserialize(body.result as string)).to.equal(1);
    });
  });
});
