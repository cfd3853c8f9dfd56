/**
 * The "Task lifecycle" REST contract (ARCHITECTURE.md), on both stores:
 * priorities in exact order on a one-thread local server, delays, deadlines,
 * retry policies, GET /task, GET /tasks, POST /task/:id/retry, the function
 * endpoints, and the 4xx answers for bad input.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { GridServer } from '../server/grid-server.js';
import { Prng } from './chaos/prng.js';
import { GridClient } from './helpers/grid-client.js';
import { STORE_KINDS, startInProcess } from './helpers/in-process.js';
import { killAll, startWorker } from './helpers/processes.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';

const SLEEP = 'async function sleep(ms) { await new Promise((r) => setTimeout(r, ms)); return ms }';
/** Returns when it ran, by the thread's own clock: one thread, so the order is exact. */
const WHEN = '(tag) => [tag, performance.now()]';
const BOOM = "function boom(n) { throw new RangeError('boom ' + n) }";

interface TaskReply {
  task_id: string;
  function_id: string;
  status: string;
  priority: number;
  attempts: number;
  created_at: number;
  started_at?: number;
  finished_at?: number;
  run_at?: number;
  deadline_at?: number;
  errors?: { attempt: number; name: string; message: string }[];
  result?: string;
}

async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Keeps the one thread busy, submits 1,000 tasks in 50 batches of seeded
 * priorities (to each grid in turn), and checks that they ran (by the
 * thread's clock) in exact priority order, FIFO within each priority. On a
 * store sharded over a cluster (`fifo: 'batch'`) each batch is in one shard
 * and FIFO holds within it; batches of one priority in different shards
 * take turns.
 */
async function checkPriorityOrder(
  grids: GridClient[],
  fifo: 'all' | 'batch' = 'all',
): Promise<void> {
  const seed = Number(process.env.TASKGRID_TEST_SEED ?? Date.now() % 100_000);
  const prng = new Prng(seed);
  const random = (): number => prng.next();
  const first = grids[0] as GridClient;
  const sleep = await first.register(SLEEP);
  const when = await first.register(WHEN);
  // The one thread is busy while everything is queued behind it.
  const blocker = await first.submit(sleep, [1500]);
  const submitted: { id: string; priority: number; n: number }[] = [];
  for (let b = 0; b < 50; b++) {
    const priority = [0, 0, 5, -5, 100, -100, 1, 42][Math.floor(random() * 8)] as number;
    const grid = grids[b % grids.length] as GridClient;
    const args = Array.from({ length: 20 }, (_, i) => [b * 20 + i]);
    const reply = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
      function_id: when,
      payloads: args.map((a) => JSON.stringify(a)),
      priority,
    });
    expect(reply.status).to.equal(201);
    reply.body.task_ids.forEach((id, i) => {
      submitted.push({ id, priority, n: b * 20 + i });
    });
  }
  const blocked = await first.call<{ status: string }>('GET', `/status/${blocker}`);
  expect(blocked.body.status, 'the blocker outlasted the submits').to.equal('RUNNING');
  const ran: [number, number][] = [];
  for (const { id } of submitted) {
    const done = await first.wait(id);
    expect(done.status).to.equal('COMPLETED');
    ran.push(JSON.parse(done.result ?? '[]'));
  }
  const order = ran.sort((a, b) => a[1] - b[1]).map(([tag]) => tag);
  const expected = [...submitted]
    .sort((a, b) => b.priority - a.priority || a.n - b.n)
    .map((t) => t.n);
  const replay = `seed ${seed} (TASKGRID_TEST_SEED=${seed} replays it)`;
  if (fifo === 'all') {
    expect(order, replay).to.deep.equal(expected);
    return;
  }
  const priorityOf = new Map(submitted.map((t) => [t.n, t.priority]));
  const priorities = (tags: number[]) => tags.map((n) => priorityOf.get(n));
  expect(priorities(order), replay).to.deep.equal(priorities(expected));
  const batch = (n: number) => Math.floor(n / 20);
  for (let b = 0; b < 50; b++) {
    const mine = order.filter((n) => batch(n) === b);
    expect(mine, `${replay}: batch ${b} in order`).to.deep.equal([...mine].sort((x, y) => x - y));
  }
}

/**
 * The one thread is busy; a task with a short deadline (and a retry policy)
 * is held behind it, ahead of time: it must fail with DeadlineExceededError
 * when its turn comes, never run, and not be retried.
 */
async function checkDeadlineWhileHeld(grid: GridClient): Promise<void> {
  const sleep = await grid.register(SLEEP);
  const blocker = await grid.submit(sleep, [800]);
  const reply = await grid.call<{ task_id: string }>('POST', '/execute_function', {
    function_id: sleep,
    payload: '[1]',
    deadline_ms: 200,
    retry: { max_attempts: 3, backoff: 'fixed', delay_ms: 10 },
  });
  const id = reply.body.task_id;
  const done = await grid.wait(id);
  expect(done.status).to.equal('FAILED');
  expect(JSON.parse(done.result ?? '{}')).to.include({ name: 'DeadlineExceededError' });
  const record = (await grid.call<TaskReply>('GET', `/task/${id}`)).body;
  expect(record.attempts, 'leased at most once, never retried').to.be.at.most(1);
  expect((await grid.wait(blocker)).status).to.equal('COMPLETED');
}

for (const store of STORE_KINDS) {
  describe(`task lifecycle over REST (${store} store)`, () => {
    let server: GridServer;
    let grid: GridClient;
    before(async () => {
      server = await startInProcess(store, { threads: 1 });
      grid = new GridClient(server.url);
    });
    after(async () => {
      await server.close();
    });
    const task = async (id: string) => (await grid.call<TaskReply>('GET', `/task/${id}`)).body;

    it('runs 1,000 queued tasks of mixed priorities in exact priority order, FIFO within each', async () => {
      await checkPriorityOrder([grid], store === 'cluster' ? 'batch' : 'all');
    });

    it('fails a task held ahead of time past its deadline without running it, and does not retry it', async () => {
      await checkDeadlineWhileHeld(grid);
    });

    it('GET /task/:id answers the whole record; 404 unknown, 400 malformed', async () => {
      const when = await grid.register(WHEN);
      const id = await grid.submit(when, ['x']);
      await grid.wait(id);
      const record = await task(id);
      expect(record).to.include({ task_id: id, function_id: when, status: 'COMPLETED' });
      expect(record.priority).to.equal(0);
      expect(record.attempts).to.equal(1);
      expect(record.result).to.be.a('string');
      const { created_at, started_at, finished_at } = record;
      expect(started_at).to.be.a('number').at.least(created_at);
      expect(finished_at)
        .to.be.a('number')
        .at.least(started_at as number);
      expect(record).to.not.have.property('errors');
      expect((await grid.call('GET', `/task/${randomUUID()}`)).status).to.equal(404);
      expect((await grid.call('GET', '/task/nope')).status).to.equal(400);
    });

    it('keeps a delayed task WAITING until its time, then runs it', async () => {
      const when = await grid.register(WHEN);
      const reply = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: when,
        payload: '["later"]',
        delay_ms: 400,
      });
      expect(reply.status).to.equal(201);
      const id = reply.body.task_id;
      const waiting = await task(id);
      expect(waiting.status).to.equal('WAITING');
      expect((await grid.call('GET', `/status/${id}`)).body).to.deep.equal({
        task_id: id,
        status: 'WAITING',
      });
      expect(waiting.run_at).to.equal(waiting.created_at + 400);
      const done = await grid.wait(id);
      expect(done.status).to.equal('COMPLETED');
      expect((await task(id)).started_at).to.be.at.least(waiting.run_at as number);
    });

    it('retries a throwing task by its policy, then fails it with every error listed', async () => {
      const boom = await grid.register(BOOM);
      const reply = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: boom,
        payload: '[7]',
        retry: { max_attempts: 3, backoff: 'exponential', delay_ms: 50 },
      });
      const id = reply.body.task_id;
      const seen = await until(
        () => task(id),
        (t) => t.status === 'WAITING',
      );
      expect(seen.status).to.equal('WAITING');
      const done = await grid.wait(id);
      expect(done.status).to.equal('FAILED');
      const record = await task(id);
      expect(record.attempts).to.equal(3);
      expect(record.errors?.map((e) => [e.attempt, e.name, e.message])).to.deep.equal([
        [1, 'RangeError', 'boom 7'],
        [2, 'RangeError', 'boom 7'],
        [3, 'RangeError', 'boom 7'],
      ]);
      const dead = await grid.call<{ tasks: TaskReply[] }>(
        'GET',
        `/tasks?status=FAILED&function_id=${boom}`,
      );
      expect(dead.body.tasks.map((t) => t.task_id)).to.include(id);
      expect(dead.body.tasks[0]).to.not.have.property('result');
    });

    it("takes a function's retry policy as its tasks' default", async () => {
      const reply = await grid.call<{ function_id: string }>('POST', '/register_function', {
        name: 'boom',
        payload: BOOM,
        retry: { max_attempts: 2, backoff: 'fixed', delay_ms: 10 },
      });
      expect(reply.status).to.equal(201);
      const fn = reply.body.function_id;
      const id = await grid.submit(fn, [1]);
      expect((await grid.wait(id)).status).to.equal('FAILED');
      expect((await task(id)).attempts).to.equal(2);
      const listed = await grid.call<{ functions: Record<string, unknown>[] }>('GET', '/functions');
      expect(listed.body.functions.find((f) => f.function_id === fn)).to.deep.include({
        name: 'boom',
        retry: { max_attempts: 2, backoff: 'fixed', delay_ms: 10 },
      });
      const one = await grid.call<Record<string, unknown>>('GET', `/function/${fn}`);
      expect(one.body).to.include({ function_id: fn, source: BOOM });
      expect((await grid.call('GET', `/function/${randomUUID()}`)).status).to.equal(404);
    });

    it('POST /task/:id/retry runs a FAILED task again under its id; 409 otherwise, 404 unknown', async () => {
      const boom = await grid.register(BOOM);
      const when = await grid.register(WHEN);
      const failed = await grid.submit(boom, [1]);
      const fine = await grid.submit(when, [1]);
      await grid.wait(failed);
      await grid.wait(fine);
      const again = await grid.call('POST', `/task/${failed}/retry`);
      expect(again.status).to.equal(200);
      expect(again.body).to.deep.equal({ task_id: failed, status: 'QUEUED' });
      expect((await grid.wait(failed)).status).to.equal('FAILED');
      const record = await task(failed);
      expect(record.attempts).to.equal(2);
      expect(record.errors).to.have.length(2);
      expect((await grid.call('POST', `/task/${fine}/retry`)).status).to.equal(409);
      expect((await grid.call('POST', `/task/${randomUUID()}/retry`)).status).to.equal(404);
      expect((await grid.call('POST', '/task/bad/retry')).status).to.equal(400);
    });

    it('GET /tasks pages newest first and answers 400 for bad parameters', async () => {
      const when = await grid.register(WHEN);
      const ids = await grid.batch(
        when,
        Array.from({ length: 5 }, (_, i) => [i]),
      );
      const page = await grid.call<{ tasks: TaskReply[]; next_cursor?: string }>(
        'GET',
        `/tasks?function_id=${when}&limit=2`,
      );
      expect(page.status).to.equal(200);
      expect(page.body.tasks.map((t) => t.task_id)).to.deep.equal([ids[4], ids[3]]);
      const next = await grid.call<{ tasks: TaskReply[]; next_cursor?: string }>(
        'GET',
        `/tasks?function_id=${when}&limit=2&cursor=${page.body.next_cursor}`,
      );
      expect(next.body.tasks.map((t) => t.task_id)).to.deep.equal([ids[2], ids[1]]);
      const all = await grid.call<{ tasks: TaskReply[] }>('GET', '/tasks');
      expect(all.body.tasks.length).to.be.at.most(100);
      for (const bad of [
        'status=DONE',
        'limit=0',
        'limit=1001',
        'limit=x',
        'cursor=abc',
        'function_id=x',
      ]) {
        const reply = await grid.call('GET', `/tasks?${bad}`);
        expect(reply.status, bad).to.equal(400);
      }
    });

    it('answers 422 for out-of-range submit options and stores nothing', async () => {
      const when = await grid.register(WHEN);
      for (const extra of [
        { priority: 101 },
        { priority: 1.5 },
        { delay_ms: -1 },
        { delay_ms: 2_592_000_001 },
        { deadline_ms: 0 },
        { retry: { max_attempts: 0, backoff: 'fixed', delay_ms: 1 } },
        { retry: { max_attempts: 2, backoff: 'linear', delay_ms: 1 } },
      ]) {
        const reply = await grid.call('POST', '/execute_function', {
          function_id: when,
          payload: '[1]',
          ...extra,
        });
        expect(reply.status, JSON.stringify(extra)).to.equal(422);
      }
      const listed = await grid.call<{ tasks: TaskReply[] }>('GET', `/tasks?function_id=${when}`);
      expect(listed.body.tasks).to.deep.equal([]);
    });
  });

  describe(`task lifecycle with no worker to run it (push mode, ${store} store)`, () => {
    let server: GridServer;
    let grid: GridClient;
    before(async () => {
      server = await startInProcess(store, { mode: 'push' });
      grid = new GridClient(server.url);
    });
    after(async () => {
      await server.close();
    });

    it('fails a task not started by its deadline with DeadlineExceededError', async () => {
      const fn = await grid.register(WHEN);
      const reply = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: fn,
        payload: '[1]',
        deadline_ms: 150,
      });
      const id = reply.body.task_id;
      const done = await grid.wait(id, 5000);
      expect(done.status).to.equal('FAILED');
      expect(JSON.parse(done.result ?? '{}')).to.include({ name: 'DeadlineExceededError' });
      const record = (await grid.call<TaskReply>('GET', `/task/${id}`)).body;
      expect(record.attempts).to.equal(0);
      expect(record.deadline_at).to.equal(record.created_at + 150);
      expect(record).to.not.have.property('started_at');
    });

    it('DELETE /function cancels its QUEUED and WAITING tasks and says how many', async () => {
      const fn = await grid.register(WHEN);
      const queued = await grid.batch(fn, [[1], [2]]);
      const delayed = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: fn,
        payload: '[3]',
        delay_ms: 60_000,
      });
      const reply = await grid.call('DELETE', `/function/${fn}`);
      expect(reply.status).to.equal(200);
      expect(reply.body).to.deep.equal({ function_id: fn, cancelled: 3 });
      for (const id of [...queued, delayed.body.task_id]) {
        const status = await grid.call<{ status: string }>('GET', `/status/${id}`);
        expect(status.body.status).to.equal('CANCELLED');
      }
      expect(
        (await grid.call('POST', '/execute_function', { function_id: fn, payload: '[1]' })).status,
      ).to.equal(404);
      expect((await grid.call('DELETE', `/function/${fn}`)).status).to.equal(404);
    });

    it('cancels a WAITING task with DELETE /task', async () => {
      const fn = await grid.register(WHEN);
      const reply = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: fn,
        payload: '[1]',
        delay_ms: 60_000,
      });
      const cancel = await grid.call('DELETE', `/task/${reply.body.task_id}`);
      expect(cancel.status).to.equal(200);
      expect(cancel.body).to.deep.equal({ task_id: reply.body.task_id, status: 'CANCELLED' });
    });
  });
}

describe('task priorities across two servers and a remote worker (redis store, push mode)', () => {
  let servers: GridServer[] = [];
  after(async () => {
    await killAll();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('runs tasks submitted to both servers in one exact priority order on a worker of one', async () => {
    const prefix = uniquePrefix();
    const store = { kind: 'redis' as const, url: testRedis().url, prefix, required: true };
    servers = [
      await startInProcess('redis', { mode: 'push', store }),
      await startInProcess('redis', { mode: 'push', store }),
    ];
    const [a, b] = servers as [GridServer, GridServer];
    await startWorker(`${a.url.replace(/^http/, 'ws')}/ws`, ['--threads', '1']);
    await checkPriorityOrder([new GridClient(a.url), new GridClient(b.url)]);
  });

  it('answers a repeated idempotency key on the other server with the same task', async () => {
    const [a, b] = servers as [GridServer, GridServer];
    const ga = new GridClient(a.url);
    const gb = new GridClient(b.url);
    const fn = await ga.register(WHEN);
    const body = { function_id: fn, payload: '[1]', idempotency_key: `k-${randomUUID()}` };
    const first = await ga.call<{ task_id: string }>('POST', '/execute_function', body);
    const again = await gb.call<{ task_id: string }>('POST', '/execute_function', body);
    expect(first.status).to.equal(201);
    expect(again.status).to.equal(200);
    expect(again.body.task_id).to.equal(first.body.task_id);
    const mine = await gb.call<{ tasks: TaskReply[] }>('GET', `/tasks?function_id=${fn}`);
    expect(mine.body.tasks.map((t) => t.task_id)).to.deep.equal([first.body.task_id]);
  });

  it('fails a task a remote worker holds past its deadline without running it', async () => {
    const [a] = servers as [GridServer];
    await checkDeadlineWhileHeld(new GridClient(a.url));
  });
});
