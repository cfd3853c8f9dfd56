/**
 * Results as arguments, the REST contract, on both stores: `{"$task": id}`
 * as an element of `payload` runs the task with that task's result value in
 * its place; chains, fan-in across functions, fan-out; failure and cancel
 * propagation (DependencyFailedError); dependencies already finished at
 * submit; 400 for unknown or malformed references with nothing stored;
 * `depends_on` in GET /task; and two servers on one Redis. Then the SDK.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { TaskGrid } from '../client/task-grid.js';
import type { GridServer } from '../server/grid-server.js';
import type { TokenEntry } from '../server/tenants.js';
import { GridClient } from './helpers/grid-client.js';
import { STORE_KINDS, startInProcess } from './helpers/in-process.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';

const DOUBLE = '(x) => x * 2';
const INC = '(x) => x + 1';
const SUM = '(...xs) => xs.reduce((a, b) => a + b, 0)';
const PAIR = '(a, b) => [a, b]';
const SLEEP =
  'async function sleep(ms, v) { await new Promise((r) => setTimeout(r, ms)); return v }';
const BOOM = "function boom() { throw new RangeError('boom') }";

const ref = (id: string) => ({ $task: id });

interface TaskReply {
  status: string;
  depends_on?: string[];
  errors?: { attempt: number; name: string; message: string }[];
  result?: string;
}

function errorOf(body: { result?: string }): { name: string; message: string } {
  const { name, message } = JSON.parse(body.result ?? '{}') as { name: string; message: string };
  return { name, message };
}

async function taskCount(grid: GridClient): Promise<number> {
  const reply = await grid.call<{ tasks: unknown[] }>('GET', '/tasks?limit=1000');
  return reply.body.tasks.length;
}

for (const store of STORE_KINDS) {
  describe(`REST results as arguments: ${store} store`, () => {
    let server: GridServer;
    let grid: GridClient;
    before(async () => {
      server = await startInProcess(store, { threads: 2 });
      grid = new GridClient(server.url);
    });
    after(async () => {
      await server.close();
    });

    it('runs a 3-deep chain with each result in place, and lists depends_on', async () => {
      const double = await grid.register(DOUBLE);
      const inc = await grid.register(INC);
      const a = await grid.submit(double, [1]);
      const b = await grid.submit(inc, [ref(a)]);
      const c = await grid.submit(double, [ref(b)]);
      expect(await grid.value(c)).to.equal(6);
      const detail = await grid.call<TaskReply>('GET', `/task/${c}`);
      expect(detail.body.depends_on).to.deep.equal([b]);
      expect(detail.body.status).to.equal('COMPLETED');
      const first = await grid.call<TaskReply>('GET', `/task/${a}`);
      expect(first.body).to.not.have.property('depends_on');
    });

    it('fans 100 results from two functions into one task', async () => {
      const double = await grid.register(DOUBLE);
      const inc = await grid.register(INC);
      const sum = await grid.register(SUM);
      const doubled = await grid.batch(
        double,
        Array.from({ length: 50 }, (_, i) => [i]),
      );
      const incremented = await grid.batch(
        inc,
        Array.from({ length: 50 }, (_, i) => [i]),
      );
      const all = [...doubled, ...incremented];
      const total = await grid.submit(sum, all.map(ref));
      const expected = 2 * ((49 * 50) / 2) + (49 * 50) / 2 + 50;
      expect(await grid.value(total)).to.equal(expected);
      const detail = await grid.call<TaskReply>('GET', `/task/${total}`);
      expect(detail.body.depends_on).to.deep.equal(all);
    });

    it('fans one result out to many tasks', async () => {
      const sleep = await grid.register(SLEEP);
      const pair = await grid.register(PAIR);
      const a = await grid.submit(sleep, [100, { deep: ['x'] }]);
      const outs = await grid.batch(
        pair,
        Array.from({ length: 10 }, (_, i) => [ref(a), i]),
      );
      const waiting = await grid.call<TaskReply>('GET', `/task/${outs[0]}`);
      expect(waiting.body.status).to.equal('WAITING');
      for (const [i, id] of outs.entries()) {
        expect(await grid.value(id)).to.deep.equal([{ deep: ['x'] }, i]);
      }
    });

    it('fails dependents down a chain when a dependency fails', async () => {
      const boom = await grid.register(BOOM);
      const double = await grid.register(DOUBLE);
      const a = await grid.submit(boom, []);
      const b = await grid.submit(double, [ref(a)]);
      const c = await grid.submit(double, [ref(b)]);
      const rc = await grid.wait(c);
      expect(rc.status).to.equal('FAILED');
      expect(errorOf(rc)).to.deep.equal({
        name: 'DependencyFailedError',
        message: `Dependency ${b} failed`,
      });
      const rb = await grid.wait(b);
      expect(errorOf(rb).message).to.equal(`Dependency ${a} failed`);
      const detail = await grid.call<TaskReply>('GET', `/task/${b}`);
      expect(detail.body.errors?.[0]?.name).to.equal('DependencyFailedError');
    });

    it('fails the dependents of a cancelled task', async () => {
      const sleep = await grid.register(SLEEP);
      const double = await grid.register(DOUBLE);
      const a = await grid.submit(sleep, [10_000, 1]);
      const b = await grid.submit(double, [ref(a)]);
      expect((await grid.call('DELETE', `/task/${a}`)).status).to.equal(200);
      const rb = await grid.wait(b);
      expect(rb.status).to.equal('FAILED');
      expect(errorOf(rb).message).to.equal(`Dependency ${a} was cancelled`);
    });

    it('resolves a COMPLETED dependency at once and fails on a FAILED one at submit', async () => {
      const double = await grid.register(DOUBLE);
      const boom = await grid.register(BOOM);
      const a = await grid.submit(double, [21]);
      const f = await grid.submit(boom, []);
      await grid.wait(a);
      await grid.wait(f);
      const ready = await grid.submit(double, [ref(a)]);
      expect(await grid.value(ready)).to.equal(84);
      const doomed = await grid.submit(double, [ref(f)]);
      const detail = await grid.call<TaskReply>('GET', `/task/${doomed}`);
      expect(detail.body.status).to.equal('FAILED');
      expect(errorOf(detail.body).message).to.equal(`Dependency ${f} failed`);
    });

    it('cancels a task still waiting for a dependency when its function was deleted', async () => {
      const sleep = await grid.register(SLEEP);
      const double = await grid.register(DOUBLE);
      const a = await grid.submit(sleep, [200, 1]);
      const b = await grid.submit(double, [ref(a)]);
      const deleted = await grid.call<{ cancelled: number }>('DELETE', `/function/${double}`);
      expect(deleted.body.cancelled).to.equal(0);
      expect((await grid.wait(b)).status).to.equal('CANCELLED');
    });

    it('answers 400 for unknown and malformed references and stores nothing', async () => {
      const double = await grid.register(DOUBLE);
      const known = await grid.submit(double, [1]);
      await grid.wait(known);
      const before = await taskCount(grid);
      const bad: unknown[][] = [
        [ref(randomUUID())],
        [ref('not-a-uuid')],
        [{ $task: known, extra: 1 }],
        [{ $task: 42 }],
        [{ $task: null }],
      ];
      for (const args of bad) {
        const reply = await grid.call<{ error: { code: string; message: string } }>(
          'POST',
          '/execute_function',
          { function_id: double, payload: JSON.stringify(args) },
        );
        expect(reply.status, JSON.stringify(args)).to.equal(400);
      }
      const unknown = randomUUID();
      const batch = await grid.call('POST', '/execute_batch', {
        function_id: double,
        payloads: [JSON.stringify([ref(known)]), JSON.stringify([ref(unknown)])],
      });
      expect(batch.status).to.equal(400);
      expect(JSON.stringify(batch.body)).to.include(unknown);
      expect(await taskCount(grid)).to.equal(before);
      // Nested look-alikes and other keys are plain data, not references.
      const pair = await grid.register(PAIR);
      const plain = await grid.submit(pair, [[ref(known)], { $tasks: 1 }]);
      expect(await grid.value(plain)).to.deep.equal([[ref(known)], { $tasks: 1 }]);
    });
  });
}

describe('REST results as arguments: tenants', () => {
  const TOKENS: TokenEntry[] = [
    { role: 'client', token: 'alpha-token', tenant: 'alpha', weight: 1 },
    { role: 'client', token: 'beta-token', tenant: 'beta', weight: 1 },
  ];
  let server: GridServer;
  before(async () => {
    server = await startInProcess('redis', { tokens: TOKENS, threads: 2 });
  });
  after(async () => {
    await server.close();
  });

  it("answers 400 for a reference to another tenant's task, as for an unknown one", async () => {
    const alpha = new GridClient(server.url, 'alpha-token');
    const beta = new GridClient(server.url, 'beta-token');
    const fa = await alpha.register(DOUBLE);
    const fb = await beta.register(DOUBLE);
    const a = await alpha.submit(fa, [1]);
    await alpha.wait(a);
    const refused = await beta.call('POST', '/execute_function', {
      function_id: fb,
      payload: JSON.stringify([ref(a)]),
    });
    expect(refused.status).to.equal(400);
    expect(await alpha.value(await alpha.submit(fa, [ref(a)]))).to.equal(4);
  });
});

describe('REST results as arguments: two servers on one Redis', () => {
  const servers: GridServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('runs a dependent submitted to B once its dependency completed on A', async () => {
    const store = {
      kind: 'redis' as const,
      url: testRedis().url,
      prefix: uniquePrefix(),
      required: true,
    };
    const a = await startInProcess('redis', { threads: 1, store });
    servers.push(a);
    const b = await startInProcess('redis', { threads: 1, store });
    servers.push(b);
    const gridA = new GridClient(a.url);
    const gridB = new GridClient(b.url);
    const sleep = await gridA.register(SLEEP);
    const pair = await gridA.register(PAIR);
    // A has room: its submit leases the task to its own thread at once.
    const first = await gridA.submit(sleep, [300, 'from A']);
    const second = await gridB.submit(pair, [ref(first), 'on B']);
    expect((await gridB.call<TaskReply>('GET', `/task/${second}`)).body.status).to.equal('WAITING');
    expect(await gridB.value(second)).to.deep.equal(['from A', 'on B']);
    expect(await gridA.value(second)).to.deep.equal(['from A', 'on B']);
  });
});

for (const store of STORE_KINDS) {
  describe(`SDK results as arguments: ${store} store`, () => {
    let server: GridServer;
    let sdk: TaskGrid;
    before(async () => {
      server = await startInProcess(store, { threads: 2 });
      sdk = new TaskGrid({ url: server.url });
    });
    after(async () => {
      sdk.close();
      await server.close();
    });

    it('passes a handle (or its promise) as an argument: g(f(1))', async () => {
      const f = await sdk.register((x: number) => x + 1);
      const g = await sdk.register((x: number, y: number) => x * y);
      const a = f.submit([1]);
      const b = g.submit([a, 10]);
      expect(await (await b).result()).to.equal(20);
      const handle = await f.submit([4]);
      expect(await g(handle, handle)).to.equal(25);
    });

    it('maps 100 and reduces them in one task', async () => {
      const square = await sdk.register((x: number) => x * x);
      const total = await sdk.register((...xs: number[]) => xs.reduce((s, x) => s + x, 0));
      const maps = Array.from({ length: 100 }, (_, i) => square.submit([i]));
      const reduce = await total.submit(maps);
      expect(await reduce.result()).to.equal(328_350);
    });
  });
}
