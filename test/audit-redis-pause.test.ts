/**
 * Audit regressions (issue 11) with Redis paused or its pub/sub connections
 * cut, on real server processes: results must still reach `/ws/client`
 * subscribers and long-polls (defect 6, and the suspected lost pub/sub
 * events), and a submit answered 503 must leave no task that later runs,
 * with idempotency keys to make retries safe (defect 7).
 */

import { expect } from 'chai';
import { TaskGrid } from '../client/task-grid.js';
import { GridClient } from './helpers/grid-client.js';
import { longPoll } from './helpers/long-poll.js';
import { startServer } from './helpers/processes.js';
import { redisFaultHooks } from './helpers/redis-admin.js';
import { redisFlags } from './helpers/root-hooks.js';
import { sleep, until, within } from './helpers/wait.js';

type Reply = { status: number; body: { task_id?: string; task_ids?: string[] } };

describe('audit: Redis paused or its subscriber cut', function () {
  this.timeout(45_000);
  const suite = redisFaultHooks();

  async function statusOf(grid: GridClient, id: string): Promise<string> {
    return (await grid.call<{ status: string }>('GET', `/status/${id}`)).body.status;
  }

  describe('defect 6: results reach waiting clients across a pause', () => {
    // The task ends while Redis is paused, and the pause outlasts the store's 2 s
    // command timeout after that: the write times out here and is applied later.
    const SOURCE = 'async (x) => { await new Promise(r => setTimeout(r, 1000)); return x * 2 }';

    it('the SDK’s `await handle.result()` resolves', async () => {
      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '2',
        ...redisFlags(suite.prefix),
      ]);
      const sdk = new TaskGrid({ url: server.url });
      try {
        const fn = await sdk.registerSource<[number], number>(SOURCE);
        const handle = await fn.submit([21]);
        const result = handle.result();
        result.catch(() => {});
        const grid = new GridClient(server.url);
        expect(
          await until(
            () => statusOf(grid, handle.id),
            (s) => s === 'RUNNING',
            5000,
            20,
          ),
        ).to.equal('RUNNING');
        await suite.admin.pause(4000, 'ALL');
        const value = await within(result, 20_000, 'no result within 20 s');
        expect(value, `task ${handle.id}: stored as ${await statusOf(grid, handle.id)}`).to.equal(
          42,
        );
      } finally {
        sdk.close();
      }
    });

    it('a long-poll started before the pause wakes with COMPLETED before its wait ends', async () => {
      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '2',
        ...redisFlags(suite.prefix),
      ]);
      const grid = new GridClient(server.url);
      const fn = await grid.register(SOURCE);
      const id = await grid.submit(fn, [21]);
      expect(
        await until(
          () => statusOf(grid, id),
          (s) => s === 'RUNNING',
          5000,
          20,
        ),
      ).to.equal('RUNNING');
      const poll = longPoll(server.url, id, 30_000, 20_000);
      await sleep(100);
      await suite.admin.pause(4000, 'ALL');
      const body = await poll;
      expect(body, `long-poll on ${id} (stored: ${await statusOf(grid, id)})`).to.not.equal(
        undefined,
      );
      expect(body?.status).to.equal('COMPLETED');
    });
  });

  it('suspected: a long-poll on server A wakes for a task server B completed while A’s subscriber was cut', async () => {
    const a = await startServer(['--mode', 'push', ...redisFlags(suite.prefix)]);
    await startServer(['--mode', 'local', '--threads', '1', ...redisFlags(suite.prefix)]);
    const viaA = new GridClient(a.url);
    const fn = await viaA.register(
      "async () => { await new Promise(r => setTimeout(r, 2000)); return 'b' }",
    );
    const id = await viaA.submit(fn, []);
    expect(
      await until(
        () => statusOf(viaA, id),
        (s) => s === 'RUNNING',
        5000,
        20,
      ),
    ).to.equal('RUNNING');
    const poll = longPoll(a.url, id, 30_000, 20_000);
    await sleep(100);
    const original = await suite.admin.maxClients();
    try {
      // Cut every subscriber and refuse new connections while B finishes the task.
      const connected = await suite.admin.connectedClients();
      const subscribers = await suite.admin.pubsubClients();
      await suite.admin.setMaxClients(connected - subscribers);
      await suite.admin.killPubsub();
      const stored = await until(
        async () => (await suite.admin.task(suite.prefix, id)).status,
        (s) => s === 'COMPLETED',
        10_000,
      );
      expect(stored).to.equal('COMPLETED');
    } finally {
      await suite.admin.setMaxClients(original);
    }
    const body = await poll;
    expect(body, `long-poll on A for ${id}`).to.not.equal(undefined);
    expect(body?.status).to.equal('COMPLETED');
  });

  describe('defect 7: a 503 is not a stored task', () => {
    it('submits answered 503 during a write pause leave no task that is queued, runs or completes', async () => {
      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '2',
        '--lease',
        '3000',
        ...redisFlags(suite.prefix),
      ]);
      const grid = new GridClient(server.url);
      const fn = await grid.register('(n) => n + 1');
      await suite.admin.pause(2500, 'WRITE');
      const replies = (await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          grid.call('POST', '/execute_function', { function_id: fn, payload: `[${i}]` }),
        ),
      )) as Reply[];
      const accepted = new Set(
        replies.filter((r) => r.status < 300).map((r) => r.body.task_id as string),
      );
      // Past the pause, then long enough for a stored task to be claimed and run.
      await sleep(5000);
      const orphans: Record<string, string>[] = [];
      for (const id of await suite.admin.taskIds(suite.prefix)) {
        if (accepted.has(id)) continue;
        const task = await suite.admin.task(suite.prefix, id);
        if (['QUEUED', 'RUNNING', 'COMPLETED'].includes(task.status ?? '')) {
          orphans.push({ id, status: task.status ?? '', attempts: task.attempts ?? '' });
        }
      }
      expect(
        orphans,
        `tasks stored for submits answered ${replies.map((r) => r.status).join(',')}`,
      ).to.deep.equal([]);
    });

    it('idempotency_key: a repeat answers 200 with the same task, and only one task exists', async () => {
      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '1',
        ...redisFlags(suite.prefix),
      ]);
      const grid = new GridClient(server.url);
      const fn = await grid.register('(n) => n + 1');
      const body = { function_id: fn, payload: '[1]', idempotency_key: 'k1' };
      const first = (await grid.call('POST', '/execute_function', body)) as Reply;
      const again = (await grid.call('POST', '/execute_function', body)) as Reply;
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect([again.status, again.body.task_id]).to.deep.equal([200, first.body.task_id]);
      expect(await suite.admin.taskIds(suite.prefix)).to.deep.equal([first.body.task_id]);
    });

    it('idempotency_keys on execute_batch: a repeat answers 200 with the same tasks', async () => {
      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '1',
        ...redisFlags(suite.prefix),
      ]);
      const grid = new GridClient(server.url);
      const fn = await grid.register('(n) => n + 1');
      const body = { function_id: fn, payloads: ['[1]', '[2]'], idempotency_keys: ['b1', 'b2'] };
      const first = (await grid.call('POST', '/execute_batch', body)) as Reply;
      const again = (await grid.call('POST', '/execute_batch', body)) as Reply;
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect([again.status, again.body.task_ids]).to.deep.equal([200, first.body.task_ids]);
      expect((await suite.admin.taskIds(suite.prefix)).sort()).to.deep.equal(
        [...(first.body.task_ids ?? [])].sort(),
      );
    });

    it('retrying on 503 with the same idempotency_key during a write pause yields one task, run once', async () => {
      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '1',
        '--lease',
        '3000',
        ...redisFlags(suite.prefix),
      ]);
      const grid = new GridClient(server.url);
      const fn = await grid.register('(n) => n + 1');
      await suite.admin.pause(2500, 'WRITE');
      const statuses: number[] = [];
      let taskId: string | undefined;
      for (const deadline = Date.now() + 20_000; !taskId && Date.now() < deadline; ) {
        const reply = (await grid.call('POST', '/execute_function', {
          function_id: fn,
          payload: '[5]',
          idempotency_key: 'retry-me',
        })) as Reply;
        statuses.push(reply.status);
        if (reply.status < 300) taskId = reply.body.task_id;
        else if (reply.status === 503) await sleep(200);
        else break;
      }
      expect(taskId, `answers: ${statuses.join(',')}`).to.be.a('string');
      const final = await grid.wait(taskId as string, 15_000);
      expect(final.status).to.equal('COMPLETED');
      // Long enough for any other stored copy to be claimed and run.
      await sleep(4000);
      const live: string[] = [];
      for (const id of await suite.admin.taskIds(suite.prefix)) {
        const status = (await suite.admin.task(suite.prefix, id)).status ?? '';
        if (!['FAILED', 'CANCELLED'].includes(status) || id === taskId)
          live.push(`${id} ${status}`);
      }
      expect(live, `answers: ${statuses.join(',')}`).to.deep.equal([`${taskId} COMPLETED`]);
    });
  });
});
