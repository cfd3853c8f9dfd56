/** Local mode: tasks on the server's own threads, through the REST API. */

import { expect } from 'chai';
import type { GridServer } from '../server/grid-server.js';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';

describe('local mode', () => {
  let server: GridServer;
  let grid: GridClient;
  before(async () => {
    process.env.TASKGRID_TEST_SECRET = 'do-not-leak';
    server = await startInProcess('redis', { threadMemoryMb: 64 });
    grid = new GridClient(server.url);
  });
  after(async () => {
    await server.close();
    delete process.env.TASKGRID_TEST_SECRET;
  });

  it('runs sync and async functions', async () => {
    const sync = await grid.register('(a, b) => a + b');
    const asyncFn = await grid.register(
      'async (a) => { await new Promise(r => setTimeout(r, 5)); return { a } }',
    );
    expect(await grid.value(await grid.submit(sync, [2, 3]))).to.equal(5);
    expect(await grid.value(await grid.submit(asyncFn, [7]))).to.deep.equal({ a: 7 });
  });

  it('records RUNNING while a task runs, then COMPLETED with timestamps and attempts', async () => {
    const fn = await grid.register(
      'async () => { await new Promise(r => setTimeout(r, 300)); return 1 }',
    );
    const id = await grid.submit(fn, []);
    let seen = '';
    for (let i = 0; i < 100 && seen !== 'RUNNING'; i++) {
      seen = (await grid.call('GET', `/status/${id}`)).body.status as string;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen).to.equal('RUNNING');
    await grid.wait(id);
    const record = await server.store.getTask(id);
    expect(record?.status).to.equal('COMPLETED');
    expect(record?.attempts).to.equal(1);
    expect(record?.created_at).to.be.at.most(record?.started_at as number);
    expect(record?.started_at).to.be.at.most(record?.finished_at as number);
    expect(record?.run_ms).to.be.greaterThan(250);
  });

  it('fails a task that throws, with the error as data, and a rejected promise too', async () => {
    const thrower = await grid.register('function f() { throw new RangeError("nope") }');
    const rejecter = await grid.register('async function f() { throw new Error("async nope") }');
    for (const [fn, name, message] of [
      [thrower, 'RangeError', 'nope'],
      [rejecter, 'Error', 'async nope'],
    ] as const) {
      const body = await grid.wait(await grid.submit(fn, []));
      expect(body.status).to.equal('FAILED');
      expect(deserialize(body.result as string)).to.include({ name, message });
    }
  });

  it('returns FAILED stacks with the task frames and none of the server files', async () => {
    const thrower = await grid.register(
      'function f() { return (() => { throw new Error("x") })() }',
    );
    const body = await grid.wait(await grid.submit(thrower, []));
    const error = deserialize(body.result as string) as { stack: string };
    expect(error.stack).to.match(/at f \(<anonymous>:\d+:\d+\)/);
    expect(error.stack).not.to.match(/file:|\/dist\/|thread-runtime/);
    const spin = await grid.register('function spin() { for (;;) {} }');
    const timedOut = await grid.wait(await grid.submit(spin, [], 200));
    // Errors the grid makes carry no stack: it would be the server's own.
    expect(deserialize(timedOut.result as string)).to.include({ name: 'TimeoutError', stack: '' });
  });

  it('ends a task that passes its timeout with TimeoutError, and keeps serving', async () => {
    const spin = await grid.register('function spin() { for (;;) {} }');
    const body = await grid.wait(await grid.submit(spin, [], 300));
    expect(body.status).to.equal('FAILED');
    expect(deserialize(body.result as string)).to.include({ name: 'TimeoutError' });
    const fn = await grid.register('n => n + 1');
    expect(await grid.value(await grid.submit(fn, [1]))).to.equal(2);
  });

  it('fails a task that calls process.exit(), and the pool replaces the thread', async () => {
    const exit = await grid.register('function bye() { process.exit(3) }');
    const body = await grid.wait(await grid.submit(exit, []));
    expect(body.status).to.equal('FAILED');
    expect(deserialize(body.result as string)).to.include({ name: 'ThreadExitError' });
    const fn = await grid.register('n => n * 3');
    const values = await Promise.all(
      (await grid.batch(fn, [[1], [2], [3], [4]])).map((id) => grid.value(id)),
    );
    expect(values).to.deep.equal([3, 6, 9, 12]);
  });

  it('fails a stack overflow as a RangeError', async () => {
    const fn = await grid.register('function r(n) { return r(n + 1) + 1 }');
    const body = await grid.wait(await grid.submit(fn, [0]));
    expect(body.status).to.equal('FAILED');
    expect(deserialize(body.result as string)).to.include({ name: 'RangeError' });
  });

  it('stops a task that allocates without bound, and the server lives on', async () => {
    const fn = await grid.register(
      'function hog() { const a = []; for (;;) a.push(new Array(1e5).fill(1)) }',
    );
    const body = await grid.wait(await grid.submit(fn, [], 30_000));
    expect(body.status).to.equal('FAILED');
    expect(deserialize(body.result as string)).to.include({ name: 'ThreadExitError' });
    expect((await grid.call('GET', '/healthz')).status).to.equal(200);
  });

  it('returns a 100,000-element result', async () => {
    const fn = await grid.register('n => Array.from({ length: n }, (_, i) => i)');
    const value = (await grid.value(await grid.submit(fn, [100_000]))) as number[];
    expect(value).to.have.length(100_000);
    expect(value[99_999]).to.equal(99_999);
  });

  it('runs a 1,000-task batch with every result in order', async () => {
    const fn = await grid.register('function double(n) { return n * 2 }');
    const args = Array.from({ length: 1000 }, (_, i) => [i]);
    const ids = await grid.batch(fn, args);
    const bodies = await grid.waitAll(ids);
    expect(bodies.map((b) => deserialize(b.result as string))).to.deep.equal(
      args.map(([i]) => 2 * (i as number)),
    );
  });

  it('gives tasks none of the server environment', async () => {
    const fn = await grid.register(
      '() => ({ keys: Object.keys(process.env), secret: process.env.TASKGRID_TEST_SECRET ?? null })',
    );
    expect(await grid.value(await grid.submit(fn, []))).to.deep.equal({ keys: [], secret: null });
  });

  it('returns undefined as null and fails a result that is not JSON-serializable', async () => {
    const nothing = await grid.register('() => {}');
    expect(await grid.value(await grid.submit(nothing, []))).to.equal(null);
    const big = await grid.register('() => 10n');
    const body = await grid.wait(await grid.submit(big, []));
    expect(body.status).to.equal('FAILED');
    expect(deserialize(body.result as string)).to.include({ name: 'TypeError' });
  });

  it('runs no more tasks at once than it has threads', async () => {
    const fn = await grid.register(
      'async () => { globalThis.n = (globalThis.n ?? 0) + 1; const at = globalThis.n; await new Promise(r => setTimeout(r, 20)); globalThis.n--; return at }',
    );
    const ids = await grid.batch(
      fn,
      Array.from({ length: 20 }, () => []),
    );
    const values = (await grid.waitAll(ids)).map((b) => deserialize(b.result as string) as number);
    // Each thread runs one task at a time, so no thread ever sees two at once.
    expect(Math.max(...values)).to.equal(1);
  });
});
