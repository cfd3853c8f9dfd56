/**
 * Tenants (--tokens): each tenant's functions and tasks are its own, on
 * every REST route and on /ws/client, on both stores; workers connect with
 * worker tokens only; metrics are labelled by tenant; the single --token is
 * the tenant `default`, isolated like the others.
 */

import { expect } from 'chai';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { GridServer } from '../server/grid-server.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { NewTask, TaskStore } from '../server/store/task-store.js';
import type { TokenEntry } from '../server/tenants.js';
import { CloseCode } from '../shared/close-codes.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import { TaskgridWorker } from '../worker/worker-client.js';
import { GridClient } from './helpers/grid-client.js';
import { type StoreKind, startInProcess } from './helpers/in-process.js';
import { rawUpgrade } from './helpers/raw-socket.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';

const SINGLE = 'single-token-of-default';
const TOKENS: TokenEntry[] = [
  { role: 'client', token: 'alpha-client-token', tenant: 'alpha', weight: 2 },
  { role: 'client', token: 'beta-client-token', tenant: 'beta', weight: 1 },
  { role: 'worker', token: 'alpha-worker-token', tenant: 'alpha' },
  { role: 'worker', token: 'any-worker-token', tenant: undefined },
];
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

type Frame = Record<string, unknown>;

/** A /ws/client socket that queues what it is sent. */
async function clientSocket(
  server: GridServer,
  token: string,
): Promise<{ ws: WebSocket; next: () => Promise<Frame> }> {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws/client`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const frames: Frame[] = [];
  const waiting: ((frame: Frame) => void)[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    const waiter = waiting.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = () => {
    const frame = frames.shift();
    return frame ? Promise.resolve(frame) : new Promise<Frame>((r) => waiting.push(r));
  };
  return { ws, next };
}

/** Opens /ws with a hello carrying `helloToken` (and a bearer header if given); the first frame or the close. */
function workerHandshake(
  server: GridServer,
  helloToken: string | undefined,
  bearer?: string,
): Promise<{ welcome?: Frame; code?: number; reason?: string }> {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`, {
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
  });
  return new Promise((resolve) => {
    ws.on('error', () => {});
    ws.once('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          version: PROTOCOL_VERSION,
          threads: 1,
          ...(helloToken ? { token: helloToken } : {}),
        }),
      );
    });
    ws.once('message', (data) => {
      resolve({ welcome: JSON.parse(String(data)) as Frame });
      ws.close();
    });
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

for (const store of ['memory', 'redis'] as StoreKind[]) {
  describe(`tenants (${store} store)`, () => {
    let server: GridServer;
    const alpha = () => new GridClient(server.url, 'alpha-client-token');
    const beta = () => new GridClient(server.url, 'beta-client-token');
    const single = () => new GridClient(server.url, SINGLE);
    before(async () => {
      server = await startInProcess(store, { token: SINGLE, tokens: TOKENS, threads: 1 });
    });
    after(async () => {
      await server.close();
    });

    it('answers 404 on every route for another tenant’s function and tasks', async () => {
      const fn = await alpha().register('n => n * 2', 'double');
      const done = await alpha().submit(fn, [21]);
      expect(await alpha().value(done)).to.equal(42);
      // A task that waits, so that cancel and retry have something to act on.
      const waiting = await alpha().call<{ task_id: string }>('POST', '/execute_function', {
        function_id: fn,
        payload: '[1]',
        delay_ms: 60_000,
      });
      expect(waiting.status).to.equal(201);
      const later = waiting.body.task_id;

      for (const other of [beta(), single()]) {
        const routes: [string, string, unknown?][] = [
          ['GET', `/status/${done}`],
          ['GET', `/result/${done}`],
          ['GET', `/result/${done}?wait=200`],
          ['GET', `/task/${done}`],
          ['DELETE', `/task/${later}`],
          ['POST', `/task/${done}/retry`],
          ['GET', `/function/${fn}`],
          ['DELETE', `/function/${fn}`],
          ['POST', '/execute_function', { function_id: fn, payload: '[1]' }],
          ['POST', '/execute_batch', { function_id: fn, payloads: ['[1]'] }],
        ];
        for (const [method, path, body] of routes) {
          const reply = await other.call(method, path, body);
          expect(reply.status, `${method} ${path}`).to.equal(404);
          // Told exactly what an unknown id is told: nothing says the object exists.
          const unknown = path.replace(done, UNKNOWN_ID).replace(later, UNKNOWN_ID);
          const fresh = await other.call(method, unknown.replace(fn, UNKNOWN_ID), body);
          expect(fresh.status, `${method} ${unknown}`).to.equal(404);
        }
      }

      // Nothing changed for its owner: the function serves, the waiting task waits.
      expect((await alpha().call('GET', `/function/${fn}`)).status).to.equal(200);
      const task = await alpha().call<{ status: string }>('GET', `/task/${later}`);
      expect(task.body.status).to.equal('WAITING');
      expect((await alpha().call('DELETE', `/task/${later}`)).status).to.equal(200);
      expect((await alpha().call('POST', `/task/${later}/retry`)).status).to.equal(200);
    });

    it('lists only one’s own functions and tasks', async () => {
      const a = await alpha().register('n => n', 'alpha-fn');
      const b = await beta().register('n => n', 'beta-fn');
      const d = await single().register('n => n', 'default-fn');
      const ids = {
        alpha: await alpha().submit(a, [1]),
        beta: await beta().submit(b, [2]),
        default: await single().submit(d, [3]),
      };
      for (const [client, own, fnId] of [
        [alpha(), 'alpha', a],
        [beta(), 'beta', b],
        [single(), 'default', d],
      ] as const) {
        const fns = await client.call<{ functions: { function_id: string }[] }>(
          'GET',
          '/functions',
        );
        const fnIds = fns.body.functions.map((f) => f.function_id);
        expect(fnIds, own).to.include(fnId);
        for (const other of [a, b, d].filter((x) => x !== fnId))
          expect(fnIds).not.to.include(other);

        const tasks = await client.call<{ tasks: { task_id: string }[] }>(
          'GET',
          '/tasks?limit=1000',
        );
        const taskIds = tasks.body.tasks.map((t) => t.task_id);
        expect(taskIds, own).to.include(ids[own]);
        for (const [name, id] of Object.entries(ids)) {
          if (name !== own) expect(taskIds, `${own} sees ${name}'s`).not.to.include(id);
        }
        // Filters combine with the tenant's own view.
        const byFn = await client.call<{ tasks: { task_id: string }[] }>(
          'GET',
          `/tasks?function_id=${a}`,
        );
        expect(byFn.body.tasks.length > 0).to.equal(own === 'alpha');
      }
    });

    it('keeps schedules apart: 404 across tenants, listed by their own, fired as their tenant', async () => {
      const fn = await alpha().register('() => "tick"', 'tick');
      const body = { function_id: fn, cron: '* * * * * *', payload: '[]' };
      // A schedule of another tenant's function is refused as for no function.
      expect((await beta().call('POST', '/schedules', body)).status).to.equal(404);
      const created = await alpha().call<{ schedule_id: string }>('POST', '/schedules', body);
      expect(created.status).to.equal(201);
      const id = created.body.schedule_id;
      const listed = async (client: GridClient) =>
        (
          await client.call<{ schedules: { schedule_id: string }[] }>('GET', '/schedules')
        ).body.schedules.map((x) => x.schedule_id);
      expect(await listed(alpha())).to.include(id);
      expect(await listed(beta())).not.to.include(id);
      expect(await listed(single())).not.to.include(id);
      expect((await beta().call('DELETE', `/schedule/${id}`)).status).to.equal(404);
      expect((await single().call('DELETE', `/schedule/${id}`)).status).to.equal(404);
      // Its fires are alpha's tasks (the schedule fires every second).
      let fired: string[] = [];
      for (let i = 0; i < 100 && fired.length === 0; i++) {
        const page = await alpha().call<{ tasks: { task_id: string }[] }>(
          'GET',
          `/tasks?function_id=${fn}`,
        );
        fired = page.body.tasks.map((t) => t.task_id);
        if (fired.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(fired.length).to.be.greaterThan(0);
      expect((await alpha().wait(fired[0] as string)).status).to.equal('COMPLETED');
      expect((await beta().call('GET', `/task/${fired[0]}`)).status).to.equal(404);
      expect((await alpha().call('DELETE', `/schedule/${id}`)).status).to.equal(200);
    });

    it('keeps tenants’ equal idempotency keys apart', async () => {
      const a = await alpha().register('() => "alpha"');
      const b = await beta().register('() => "beta"');
      const submit = (client: GridClient, fn: string) =>
        client.call<{ task_id: string }>('POST', '/execute_function', {
          function_id: fn,
          payload: '[]',
          idempotency_key: 'same-key',
        });
      const first = await submit(alpha(), a);
      const second = await submit(beta(), b);
      expect(first.status).to.equal(201);
      expect(second.status).to.equal(201);
      expect(second.body.task_id).not.to.equal(first.body.task_id);
      expect(await beta().value(second.body.task_id)).to.equal('beta');
      // The same tenant's repeat still finds its first task.
      expect((await submit(alpha(), a)).body.task_id).to.equal(first.body.task_id);
      // With ?wait, the repeat answers the finished task's result.
      await alpha().wait(first.body.task_id);
      const again = await alpha().call<{ status?: string }>('POST', '/execute_function?wait=5000', {
        function_id: a,
        payload: '[]',
        idempotency_key: 'same-key',
      });
      expect(again.body.status).to.equal('COMPLETED');
    });

    it('refuses a worker token on REST and on /ws/client', async () => {
      const worker = new GridClient(server.url, 'alpha-worker-token');
      expect((await worker.call('GET', '/functions')).status).to.equal(401);
      const upgrade = await rawUpgrade(server.url, '/ws/client', {
        authorization: 'Bearer alpha-worker-token',
      });
      expect(upgrade.status).to.equal(401);
      upgrade.socket.destroy();
    });

    it('subscribes and submits on /ws/client for one’s own tenant only', async () => {
      const a = await alpha().register('n => n + 1');
      const b = await beta().register('n => n - 1');
      const alphaTask = await alpha().submit(a, [1]);
      await alpha().wait(alphaTask);
      const betaSocket = await clientSocket(server, 'beta-client-token');
      const alphaSocket = await clientSocket(server, 'alpha-client-token');
      try {
        betaSocket.ws.send(JSON.stringify({ type: 'subscribe', ids: [alphaTask] }));
        expect(await betaSocket.next()).to.deep.equal({ type: 'unknown', task_id: alphaTask });
        alphaSocket.ws.send(JSON.stringify({ type: 'subscribe', ids: [alphaTask] }));
        expect(await alphaSocket.next()).to.include({ type: 'result', status: 'COMPLETED' });

        // A task not finished yet: the other tenant's subscription is refused, and stays so.
        const slow = await alpha().call<{ task_id: string }>('POST', '/execute_function', {
          function_id: a,
          payload: '[5]',
          delay_ms: 300,
        });
        const slowId = slow.body.task_id;
        betaSocket.ws.send(JSON.stringify({ type: 'subscribe', ids: [slowId] }));
        alphaSocket.ws.send(JSON.stringify({ type: 'subscribe', ids: [slowId] }));
        expect(await betaSocket.next()).to.deep.equal({ type: 'unknown', task_id: slowId });
        expect(await alphaSocket.next()).to.deep.include({ type: 'result', task_id: slowId });

        betaSocket.ws.send(
          JSON.stringify({ type: 'submit', ref: 'r1', function_id: a, payload: '[1]' }),
        );
        expect(await betaSocket.next()).to.include({
          type: 'refused',
          ref: 'r1',
          code: 'TG_NOT_FOUND',
        });
        betaSocket.ws.send(
          JSON.stringify({ type: 'submit', ref: 'r2', function_id: b, payload: '[10]' }),
        );
        const submitted = await betaSocket.next();
        expect(submitted).to.include({ type: 'submitted', ref: 'r2' });
        expect(await betaSocket.next()).to.include({ type: 'result', status: 'COMPLETED' });
        // Its task is beta's: alpha does not see it.
        const status = await alpha().call('GET', `/status/${String(submitted.task_id)}`);
        expect(status.status).to.equal(404);
      } finally {
        betaSocket.ws.close();
        alphaSocket.ws.close();
      }
    });

    it('labels /metrics by tenant', async () => {
      const fn = await beta().register('() => 1');
      await beta().value(await beta().submit(fn, []));
      const text = String((await beta().call('GET', '/metrics')).body);
      expect(text).to.match(/taskgrid_tasks_submitted_total\{tenant="beta"\} [1-9]/);
      expect(text).to.match(
        /taskgrid_tasks_finished_total\{status="COMPLETED",tenant="beta"\} [1-9]/,
      );
      expect(text).to.match(/taskgrid_tasks_finished_total\{status="CANCELLED",tenant="alpha"\}/);
    });
  });
}

describe('tenants: worker sockets', () => {
  let server: GridServer;
  before(async () => {
    server = await startInProcess('memory', { mode: 'push', token: SINGLE, tokens: TOKENS });
  });
  after(async () => {
    await server.close();
  });

  it('welcomes a worker token, by header or in the hello, and keeps its tenant', async () => {
    for (const [hello, bearer] of [
      ['alpha-worker-token', undefined],
      [undefined, 'alpha-worker-token'],
      ['any-worker-token', undefined],
      [SINGLE, undefined],
    ] as const) {
      const answer = await workerHandshake(server, hello, bearer);
      expect(answer.welcome?.type, `${hello ?? bearer}`).to.equal('welcome');
    }
  });

  it('shows a worker’s tenant in GET /workers', async () => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`, {
      headers: { authorization: 'Bearer alpha-worker-token' },
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, threads: 1 }));
    await new Promise((resolve) => ws.once('message', resolve));
    try {
      const grid = new GridClient(server.url, SINGLE);
      const reply = await grid.call<{ tenant?: string }[]>('GET', '/workers');
      expect(reply.body.map((w) => w.tenant)).to.include('alpha');
    } finally {
      ws.close();
    }
  });

  it('sends the dashboard each tenant’s counts: a tenant its own row, --token all', async () => {
    const rows = async (token: string) => {
      const socket = await clientSocket(server, token);
      try {
        socket.ws.send(JSON.stringify({ type: 'watch' }));
        const stats = await socket.next();
        expect(stats.type).to.equal('stats');
        return (stats.tenants as { tenant: string }[]).map((t) => t.tenant).sort();
      } finally {
        socket.ws.close();
      }
    };
    expect(await rows('alpha-client-token')).to.deep.equal(['alpha']);
    expect(await rows(SINGLE)).to.deep.equal(['alpha', 'beta', 'default']);
  });

  it('refuses a client token: 401 at the upgrade, 4401 in the hello', async () => {
    const upgrade = await rawUpgrade(server.url, '/ws', {
      authorization: 'Bearer alpha-client-token',
    });
    expect(upgrade.status).to.equal(401);
    upgrade.socket.destroy();
    const answer = await workerHandshake(server, 'alpha-client-token');
    expect(answer.code).to.equal(CloseCode.Unauthorized);
    expect(answer.reason).to.include('client token');
    const wrong = await workerHandshake(server, 'not-a-token-at-all');
    expect(wrong.code).to.equal(CloseCode.Unauthorized);
  });
});

for (const mode of ['push', 'pull'] as const) {
  describe(`tenants: a worker of one tenant runs only its tasks (${mode})`, () => {
    let server: GridServer;
    const workers: TaskgridWorker[] = [];
    const worker = async (token: string) => {
      const w = new TaskgridWorker({
        url: `${server.url.replace(/^http/, 'ws')}/ws`,
        token,
        threads: 1,
        log: pino({ level: 'silent' }),
      });
      workers.push(w);
      await w.start();
      return w;
    };
    before(async () => {
      server = await startInProcess('redis', { mode, token: SINGLE, tokens: TOKENS });
    });
    after(async () => {
      for (const w of workers) await w.close();
      await server.close();
    });

    it('runs alpha’s task on alpha’s worker; beta’s waits for a worker for every tenant', async () => {
      await worker('alpha-worker-token');
      const alpha = new GridClient(server.url, 'alpha-client-token');
      const beta = new GridClient(server.url, 'beta-client-token');
      const a = await alpha.register('() => "alpha ran"');
      const b = await beta.register('() => "beta ran"');
      const betaTask = await beta.submit(b, []);
      expect(await alpha.value(await alpha.submit(a, []))).to.equal('alpha ran');
      // Alpha's worker is idle, yet beta's task is not its to run.
      expect((await beta.wait(betaTask, 300)).status).to.equal('QUEUED');
      await worker('any-worker-token');
      expect(await beta.value(betaTask)).to.equal('beta ran');
    });
  });
}

describe('tenants in the stores', () => {
  const task = (id: string, tenant?: string): NewTask => ({
    id,
    function_id: 'f',
    args: '[]',
    timeout_ms: 1000,
    created_at: Date.now(),
    ...(tenant ? { tenant } : {}),
  });
  const ids = {
    a: '10000000-0000-4000-8000-000000000001',
    b: '10000000-0000-4000-8000-000000000002',
    d: '10000000-0000-4000-8000-000000000003',
  };

  for (const kind of ['memory', 'redis'] as const) {
    it(`keeps each task's and function's tenant, and lists by tenant (${kind})`, async () => {
      let store: TaskStore;
      if (kind === 'memory') store = new MemoryStore();
      else {
        const redis = new RedisStore({
          url: testRedis().url,
          prefix: uniquePrefix(),
          instanceId: 'test',
        });
        await redis.connect();
        store = redis;
      }
      try {
        await store.enqueue([task(ids.a, 'alpha'), task(ids.b, 'beta'), task(ids.d)]);
        expect((await store.getTask(ids.a))?.tenant).to.equal('alpha');
        expect(await store.getTask(ids.d)).not.to.have.property('tenant');
        const list = async (tenant?: string) =>
          (await store.listTasks({ limit: 100, tenant })).tasks.map((t) => t.id);
        expect(await list('alpha')).to.deep.equal([ids.a]);
        expect(await list('beta')).to.deep.equal([ids.b]);
        expect(await list(undefined)).to.deep.equal([ids.d]);
        expect(await list('gamma')).to.deep.equal([]);

        await store.registerFunction({
          id: 'fa',
          name: 'a',
          source: 'x => x',
          created_at: 1,
          tenant: 'alpha',
        });
        await store.registerFunction({ id: 'fd', name: 'd', source: 'x => x', created_at: 2 });
        expect(await store.getFunction('fa')).to.deep.include({ tenant: 'alpha' });
        expect(await store.getFunction('fd')).not.to.have.property('tenant');
      } finally {
        await store.close();
      }
    });
  }
});
