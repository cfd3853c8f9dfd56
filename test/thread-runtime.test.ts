/**
 * The task thread runtime, driven through a one-thread WorkerThreadPool:
 * whatever a task throws or returns, exactly one outcome comes back and the
 * thread takes the next task at once (issue 11, defect 10); stacks show the
 * task's frames, never the grid's files.
 */

import { expect } from 'chai';
import { errorOf, PoolHarness } from './helpers/pool-harness.js';

/** Task sources that throw or return something hostile to error and result handling. */
const HOSTILE: [string, string][] = [
  ['a null-prototype object', '() => { throw Object.create(null) }'],
  [
    'a proxy that throws on every trap',
    `() => { const trap = () => { throw Object.create(null) };
      throw new Proxy({}, { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap,
        getOwnPropertyDescriptor: trap, apply: trap }) }`,
  ],
  ['a Symbol', '() => { throw Symbol("boom") }'],
  [
    'an object whose getters throw',
    `() => { throw { get name() { throw Object.create(null) }, get message() { throw Object.create(null) } } }`,
  ],
  [
    'an Error whose stack getter throws',
    `() => { const e = new Error("x");
      Object.defineProperty(e, "stack", { get() { throw Object.create(null) } }); throw e }`,
  ],
  [
    'an Error whose message getter throws',
    `() => { const e = new TypeError("x");
      Object.defineProperty(e, "message", { get() { throw Object.create(null) } }); throw e }`,
  ],
  ['an object whose toString throws', '() => { throw { toString() { throw 1 } } }'],
  ['a result whose toJSON throws', '() => ({ toJSON() { throw Object.create(null) } })'],
  [
    'a result that is a hostile proxy',
    `() => new Proxy({}, { get() { throw Object.create(null) }, ownKeys() { throw Object.create(null) } })`,
  ],
  ['a thenable whose then throws', '() => ({ then() { throw Object.create(null) } })'],
  ['a thenable whose then getter throws', '() => ({ get then() { throw Object.create(null) } })'],
  ['a rejection with a null-prototype object', '() => Promise.reject(Object.create(null))'],
  ['an async throw of a proxy', 'async () => { throw new Proxy({}, { get() { throw 1 } }) }'],
  ['a BigInt result', '() => 10n'],
];

describe('thread runtime', () => {
  let harness: PoolHarness;
  beforeEach(() => {
    harness = new PoolHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  it('fails each hostile throw or result with a clear error, and the thread runs the next task at once (defect 10)', async () => {
    for (const [what, source] of HOSTILE) {
      // The task's own timeout is a minute; its outcome must come long before.
      const outcome = await harness.run(source, [], 10_000, 60_000);
      expect(outcome.status, what).to.equal('FAILED');
      const error = errorOf(outcome);
      expect(error.name, what).to.be.a('string').and.not.equal('');
      expect(error.message, what).to.be.a('string').and.not.equal('');
      const next = await harness.run('(n) => n + 1', [1], 10_000);
      expect(next.value, `after ${what}`).to.equal('2');
    }
    // Exactly one outcome per task.
    expect(harness.reported).to.have.length(HOSTILE.length * 2);
    // And the pool holds none of them: idle() is settled before the event loop turns.
    const idle = await Promise.race([
      harness.pool.idle().then(() => true),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
    ]);
    expect(idle, 'pool idle').to.equal(true);
  });

  it('describes a thrown non-Error: a string keeps its text, a null-prototype object says what it was', async () => {
    expect(errorOf(await harness.run('() => { throw "plain text" }'))).to.include({
      name: 'Error',
      message: 'plain text',
    });
    expect(errorOf(await harness.run('() => { throw Object.create(null) }')).message).to.match(
      /not an Error.*null prototype/,
    );
  });

  it('ends a thenable that never settles at its timeout, then runs the next task', async () => {
    const outcome = await harness.run('() => ({ then() {} })', [], 10_000, 300);
    expect(errorOf(outcome)).to.include({ name: 'TimeoutError' });
    expect((await harness.run('() => 7')).value).to.equal('7');
  });

  it('keeps the task frames of a stack and drops the grid files; grid errors carry no stack', async () => {
    const outcome = await harness.run(
      'function outer() { return (function inner() { throw new RangeError("deep") })() }',
    );
    const error = errorOf(outcome);
    expect(error).to.include({ name: 'RangeError', message: 'deep' });
    expect(error.stack).to.match(/at inner \(<anonymous>:\d+:\d+\)/);
    expect(error.stack).to.match(/at outer \(<anonymous>:\d+:\d+\)/);
    expect(error.stack).not.to.match(/file:|thread-runtime|\/dist\//);
    const timedOut = errorOf(await harness.run('() => { for (;;) {} }', [], 10_000, 200));
    expect(timedOut).to.include({ name: 'TimeoutError', stack: '' });
  });

  it('hides the install path in messages (a failed import names the runtime file)', async () => {
    const outcome = await harness.run('async () => import("no-such-package-for-taskgrid")');
    const error = errorOf(outcome);
    expect(error.message).to.match(/no-such-package-for-taskgrid/);
    const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
    expect(error.message).not.to.include(root);
    expect(error.stack).not.to.include(root);
  });

  it('keeps its private channel out of reach: workerData holds neither port nor shared state', async () => {
    const outcome = await harness.run(
      'async () => { const wt = await import("node:worker_threads"); return Object.keys(wt.workerData) }',
    );
    expect(JSON.parse(outcome.value)).to.have.members(['maxResultBytes', 'sandbox']);
  });

  it('posts a task’s own outcome correctly although the task replaced JSON and Array methods', async () => {
    const source = `(n) => {
      JSON.stringify = () => '"forged"'; JSON.parse = () => ["forged"];
      Array.prototype.push = function () { return 0 };
      Object.defineProperty(Array.prototype, "0", { set() {}, configurable: true });
      return { n }
    }`;
    for (const n of [1, 2, 3]) {
      const outcome = await harness.run(source, [n]);
      expect(outcome.status).to.equal('COMPLETED');
      expect(JSON.parse(outcome.value)).to.deep.equal({ n });
    }
    expect(harness.reported).to.have.length(3);
  });

  it('documents a gap: ArrayBuffers are outside the thread memory limit (README: use OS limits)', async () => {
    const small = new PoolHarness({ resourceLimits: { maxOldGenerationSizeMb: 32 } });
    try {
      const outcome = await small.run(
        '() => { const held = []; for (let i = 0; i < 8; i++) held.push(new Uint8Array(16 * 1024 * 1024).fill(1)); return held.reduce((n, b) => n + b.length, 0) }',
      );
      expect(outcome.status).to.equal('COMPLETED');
      expect(JSON.parse(outcome.value)).to.equal(128 * 1024 * 1024);
    } finally {
      await small.close();
    }
  });
});
