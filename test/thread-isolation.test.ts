/**
 * Functions sharing a thread cannot corrupt each other (issue 11, defect
 * 10b): what a function's task changes in the realm is undone, or the thread
 * is replaced, before a task of another function runs there. One thread, so
 * every task lands on the same one.
 */

import { expect } from 'chai';
import { PoolHarness } from './helpers/pool-harness.js';

/** [what, the corrupting task, a victim task of another function, its expected value] */
const CASES: [string, string, string, unknown][] = [
  [
    'JSON.parse replaced',
    '() => { JSON.parse = () => "forged"; return 1 }',
    '(text) => JSON.parse(text).a',
    42,
  ],
  [
    'Array.prototype.push replaced',
    '() => { Array.prototype.push = function () { return 0 }; return 1 }',
    '() => { const a = []; a.push(1, 2); return a }',
    [1, 2],
  ],
  [
    'Object.prototype.then added (every result would look like a promise)',
    '() => { Object.prototype.then = function () {}; return 1 }',
    '() => ({ a: 1 })',
    { a: 1 },
  ],
  [
    'an index setter added to Array.prototype',
    '() => { Object.defineProperty(Array.prototype, "0", { set() {}, configurable: true }); return 1 }',
    '() => { const a = []; a[0] = "kept"; return a }',
    ['kept'],
  ],
  [
    'Symbol.toPrimitive added to Object.prototype',
    '() => { Object.prototype[Symbol.toPrimitive] = () => "forged"; return 1 }',
    '() => String({})',
    '[object Object]',
  ],
  [
    'a method redefined as a getter',
    '() => { Object.defineProperty(Array.prototype, "map", { get() { return () => "forged" } }); return 1 }',
    '() => [1, 2].map((x) => x * 2)',
    [2, 4],
  ],
  [
    'Array.prototype frozen',
    '() => { Object.freeze(Array.prototype); return 1 }',
    // Assigning a method that a frozen prototype has throws in strict code (the override mistake).
    '() => { "use strict"; const o = Object.create(Array.prototype); o.map = () => "own"; return o.map() }',
    'own',
  ],
  [
    'a global left behind (sloppy code)',
    'function f() { leaked = "forged"; return 1 }',
    '() => typeof leaked',
    'undefined',
  ],
  [
    'a global replaced',
    '() => { globalThis.JSON = { parse: () => "forged" }; return 1 }',
    '(text) => JSON.parse(text).a',
    42,
  ],
  [
    'a built-in module function replaced',
    'async () => { (await import("node:path")).default.join = () => "forged"; return 1 }',
    'async () => (await import("node:path")).default.join("a", "b")',
    'a/b',
  ],
  [
    'a microtask left behind that replaces JSON.parse',
    '() => { Promise.resolve().then(() => { JSON.parse = () => "forged" }); return 1 }',
    'async (text) => { await null; return JSON.parse(text).a }',
    42,
  ],
];

describe('thread isolation between functions', () => {
  let harness: PoolHarness;
  beforeEach(() => {
    harness = new PoolHarness();
  });
  afterEach(async () => {
    await harness.close();
  });

  for (const [what, corrupt, victim, expected] of CASES) {
    it(`undoes or replaces: ${what}`, async () => {
      const args = [JSON.stringify({ a: 42 })];
      // Warm the victim's function on the thread first, then corrupt, then run it again.
      expect(JSON.parse((await harness.run(victim, args)).value)).to.deep.equal(expected);
      const bad = await harness.run(corrupt);
      expect(bad.status, 'the corrupting task itself completes').to.equal('COMPLETED');
      expect(JSON.parse(bad.value)).to.equal(1);
      const after = await harness.run(victim, args);
      expect(after.status).to.equal('COMPLETED');
      expect(JSON.parse(after.value)).to.deep.equal(expected);
      expect(harness.reported, 'one outcome per task').to.have.length(3);
    });
  }

  it('reports a replaced thread and runs the tasks it held, none failed or lost', async () => {
    const corrupt = harness.fn('() => { JSON.parse = () => "forged"; return 1 }');
    const victim = harness.fn('(text) => JSON.parse(text).a');
    const tasks = Array.from({ length: 40 }, (_, i) => ({
      id: `t${i}`,
      fn: i % 2 === 0 ? corrupt : victim,
      args: JSON.stringify([JSON.stringify({ a: i })]),
      attempt: 1,
      timeout_ms: 60_000,
    }));
    harness.pool.run(tasks);
    await harness.pool.idle();
    expect(harness.replaced.length).to.be.greaterThan(0);
    expect(harness.replaced[0]).to.match(/^retired: JSON\.parse was replaced/);
    expect(harness.reported).to.have.length(40);
    const byId = new Map(harness.reported.map((o) => [o.id, o]));
    expect(byId.size).to.equal(40);
    for (const [i, task] of tasks.entries()) {
      const outcome = byId.get(task.id);
      expect(outcome?.status).to.equal('COMPLETED');
      expect(outcome?.attempt).to.equal(1);
      expect(JSON.parse(outcome?.value ?? '')).to.equal(i % 2 === 0 ? 1 : i);
    }
  });

  it('replaces a thread that a callback left behind keeps busy between tasks', async () => {
    // A stray callback that spins forever runs when the thread switches functions.
    await harness.run('() => { setImmediate(() => { for (;;) {} }); return 1 }');
    const next = await harness.run('() => "fresh thread"', [], 20_000);
    expect(JSON.parse(next.value)).to.equal('fresh thread');
    expect(harness.replaced.some((r) => r.startsWith('stalled'))).to.equal(true);
  });

  it('lets one function keep its own globals between its tasks', async () => {
    const counter =
      '() => { globalThis.calls = (globalThis.calls ?? 0) + 1; return globalThis.calls }';
    expect((await harness.run(counter)).value).to.equal('1');
    expect((await harness.run(counter)).value).to.equal('2');
    await harness.run('() => 0');
    // Switching to another function removed it.
    expect((await harness.run(counter)).value).to.equal('1');
  });
});
