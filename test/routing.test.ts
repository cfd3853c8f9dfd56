/**
 * Worker labels and concurrency limits end to end, with real server and
 * worker processes: a labelled task runs only on a worker with all its
 * labels (push and pull), waits (saying so) for one that has them, and
 * holds nobody up; a function's concurrency limit holds across two servers
 * and four workers, checked from the stored start and finish times.
 */

import { expect } from 'chai';
import { GridClient } from './helpers/grid-client.js';
import {
  killAll,
  type ServerProcess,
  type Spawned,
  startServer,
  startWorker,
} from './helpers/processes.js';
import { redisFlags, uniquePrefix } from './helpers/root-hooks.js';

const WHO = '() => process.pid';
const SLEEPY = 'async function sleepy() { await new Promise((r) => setTimeout(r, 120)); return 1 }';

interface TaskReply {
  status: string;
  started_at?: number;
  finished_at?: number;
  labels?: string[];
  waiting_for?: string;
  result?: string;
}

async function registerWith(grid: GridClient, body: Record<string, unknown>): Promise<string> {
  const reply = await grid.call<{ function_id: string }>('POST', '/register_function', body);
  expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
  return reply.body.function_id;
}

async function pidOf(grid: GridClient, id: string): Promise<number> {
  const done = await grid.wait(id, 20_000);
  expect(done.status).to.equal('COMPLETED');
  return JSON.parse(done.result ?? '0');
}

for (const mode of ['push', 'pull'] as const) {
  describe(`worker labels (${mode} mode)`, () => {
    let server: ServerProcess;
    let grid: GridClient;
    let gpu: Spawned;
    before(async () => {
      server = await startServer(['--mode', mode, ...redisFlags()]);
      grid = new GridClient(server.url);
      gpu = await startWorker(server.wsUrl, [
        '--threads',
        '1',
        '--label',
        'gpu',
        '--label',
        'region=eu',
      ]);
      await startWorker(server.wsUrl, ['--threads', '1']);
    });
    after(killAll);

    it('shows each worker with its labels', async () => {
      const workers = await grid.call<{ labels: string[] }[]>('GET', '/workers');
      expect(workers.body.map((w) => w.labels).sort()).to.deep.equal([[], ['gpu', 'region=eu']]);
    });

    it("runs a function's labelled tasks only on the worker with all the labels", async () => {
      const fn = await registerWith(grid, { name: 'who', payload: WHO, labels: ['gpu'] });
      const ids = await grid.batch(
        fn,
        Array.from({ length: 20 }, () => []),
      );
      const pids = await Promise.all(ids.map((id) => pidOf(grid, id)));
      expect(new Set(pids)).to.deep.equal(new Set([gpu.child.pid]));
      const record = await grid.call<TaskReply>('GET', `/task/${ids[0]}`);
      expect(record.body.labels).to.deep.equal(['gpu']);
    });

    it("adds a task's own labels to the function's", async () => {
      const fn = await registerWith(grid, { name: 'who', payload: WHO });
      const reply = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
        function_id: fn,
        payloads: Array.from({ length: 10 }, () => '[]'),
        labels: ['region=eu'],
      });
      const pids = await Promise.all(reply.body.task_ids.map((id) => pidOf(grid, id)));
      expect(new Set(pids)).to.deep.equal(new Set([gpu.child.pid]));
    });

    it('keeps a task no worker can run QUEUED, says why, and runs it when such a worker joins; others pass it', async () => {
      const who = await registerWith(grid, { name: 'who', payload: WHO });
      const waiting = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: who,
        payload: '[]',
        labels: ['tpu'],
      });
      const id = waiting.body.task_id;
      // Unlabelled tasks submitted after it run at once: no head-of-line blocking.
      const after = await grid.batch(
        who,
        Array.from({ length: 10 }, () => []),
      );
      for (const other of after) await pidOf(grid, other);
      const record = await grid.call<TaskReply>('GET', `/task/${id}`);
      expect(record.body.status).to.equal('QUEUED');
      expect(record.body.waiting_for).to.equal('a worker with labels tpu');
      const tpu = await startWorker(server.wsUrl, ['--threads', '1', '--label', 'tpu']);
      expect(await pidOf(grid, id)).to.equal(tpu.child.pid);
    });

    it('refuses labels that are not labels with 422', async () => {
      const bad = await grid.call('POST', '/register_function', {
        name: 'x',
        payload: WHO,
        labels: ['has space'],
      });
      expect(bad.status).to.equal(422);
    });
  });
}

describe('a concurrency limit across two servers and four workers', () => {
  after(killAll);

  it('never has more than n tasks of the function RUNNING, by stored start and finish times', async () => {
    const flags = redisFlags(uniquePrefix());
    const servers = [
      await startServer(['--mode', 'push', ...flags]),
      await startServer(['--mode', 'push', ...flags]),
    ];
    for (const [i, s] of [0, 1, 0, 1].entries()) {
      await startWorker((servers[s] as ServerProcess).wsUrl, ['--threads', '2']);
      expect(i).to.be.a('number');
    }
    const grids = servers.map((s) => new GridClient(s.url));
    const [a, b] = grids as [GridClient, GridClient];
    const limited = await registerWith(a, {
      name: 'sleepy',
      payload: SLEEPY,
      concurrency: 2,
    });
    const free = await registerWith(a, { name: 'free', payload: SLEEPY });
    const ids = [
      ...(await a.batch(
        limited,
        Array.from({ length: 8 }, () => []),
      )),
      ...(await b.batch(
        limited,
        Array.from({ length: 8 }, () => []),
      )),
    ];
    // Another function's tasks are not held back by the limit.
    const freeIds = await b.batch(
      free,
      Array.from({ length: 8 }, () => []),
    );
    let freeDone = 0;
    for (const id of freeIds) {
      expect((await b.wait(id)).status).to.equal('COMPLETED');
      const t = (await b.call<TaskReply>('GET', `/task/${id}`)).body;
      freeDone = Math.max(freeDone, t.finished_at as number);
    }
    const spans: [number, number][] = [];
    for (const id of ids) {
      expect((await a.wait(id, 30_000)).status).to.equal('COMPLETED');
      const t = (await a.call<TaskReply>('GET', `/task/${id}`)).body;
      spans.push([t.started_at as number, t.finished_at as number]);
    }
    const edges = spans.flatMap(([s, f]) => [
      [s, 1],
      [f, -1],
    ]);
    // Ends before starts at the same instant: a slot freed is a slot taken.
    edges.sort(
      (x, y) => (x[0] as number) - (y[0] as number) || (x[1] as number) - (y[1] as number),
    );
    let running = 0;
    let most = 0;
    for (const [, step] of edges) {
      running += step as number;
      most = Math.max(most, running);
    }
    expect(most).to.equal(2);
    // Submitted after all 16 limited ones, it finished while they still ran: not queued behind them.
    const limitedDone = Math.max(...spans.map(([, f]) => f));
    expect(freeDone, 'the free function ran beside the limited one').to.be.below(limitedDone);
    const fn = await a.call<{ concurrency?: number }>('GET', `/function/${limited}`);
    expect(fn.body.concurrency).to.equal(2);
  });
});

describe('labels on the local pool', () => {
  after(killAll);

  it('shows the pool with the labels given by --label', async () => {
    const server = await startServer([
      '--mode',
      'local',
      '--label',
      'gpu',
      '--threads',
      '1',
      ...redisFlags(),
    ]);
    const grid = new GridClient(server.url);
    const workers = await grid.call<{ labels: string[] }[]>('GET', '/workers');
    expect(workers.body[0]?.labels).to.deep.equal(['gpu']);
    const fn = await registerWith(grid, { name: 'who', payload: WHO, labels: ['gpu'] });
    const id = await grid.submit(fn, []);
    expect((await grid.wait(id)).status).to.equal('COMPLETED');
  });
});
