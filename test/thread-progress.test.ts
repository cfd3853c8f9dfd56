/**
 * The `progress(value, note?)` global in task threads (thread-progress.ts):
 * bound to the running task in sync, async and arrow functions; what task
 * code passes is checked and never fails the task; updates are throttled in
 * the thread; task code cannot replace it.
 */

import { expect } from 'chai';
import type { ProgressUpdate } from '../shared/progress.js';
import { PoolHarness } from './helpers/pool-harness.js';

describe('progress() in task threads', function () {
  this.timeout(30_000);
  let harness: PoolHarness;
  let updates: ProgressUpdate[];

  beforeEach(() => {
    updates = [];
    harness = new PoolHarness({ threads: 1, onProgress: (update) => updates.push(update) });
  });
  afterEach(() => harness.close());

  const of = (id: string) =>
    updates.filter((u) => u.id === id).map(({ value, note }) => ({ value, note }));

  it('reports for the running task from sync, async and arrow functions', async () => {
    const sync = await harness.run('function f(n) { progress(0.25, "sync"); return n }', [1]);
    const asyncFn = await harness.run(
      'async function g(n) { await null; progress(0.5, "async"); await new Promise(r => setTimeout(r, 5)); return n }',
      [2],
    );
    const arrow = await harness.run('(n) => { progress(0.75); return n }', [3]);
    for (const outcome of [sync, asyncFn, arrow]) expect(outcome.status).to.equal('COMPLETED');
    expect(of(sync.id)).to.deep.equal([{ value: 0.25, note: 'sync' }]);
    expect(of(asyncFn.id)).to.deep.equal([{ value: 0.5, note: 'async' }]);
    expect(of(arrow.id)).to.deep.equal([{ value: 0.75, note: undefined }]);
    expect(updates.every((u) => u.attempt === 1)).to.equal(true);
  });

  it('ignores what is not a finite number, clamps to 0…1, cuts long notes, drops odd notes, never fails the task', async () => {
    const outcome = await harness.run(
      `async () => {
        const sleep = () => new Promise(r => setTimeout(r, 150));
        progress(); progress(NaN); progress('0.5'); progress(Infinity); progress(Symbol());
        progress({ valueOf() { throw new Error('no') } });
        progress(7, { toString() { throw new Error('no') } });
        await sleep();
        progress(-3, 'x'.repeat(1000));
        await sleep();
        progress(0.5, 42);
        await sleep();
        globalThis.progress = null;
        try { Object.defineProperty(globalThis, 'progress', { value: null }) } catch {}
        progress.call(null, 0.125, 'still mine');
        await sleep();
        return typeof progress;
      }`,
    );
    expect(outcome.status, outcome.value).to.equal('COMPLETED');
    expect(outcome.value).to.equal('"function"');
    expect(of(outcome.id)).to.deep.equal([
      { value: 1, note: undefined },
      { value: 0, note: 'x'.repeat(200) },
      { value: 0.5, note: undefined },
      { value: 0.125, note: 'still mine' },
    ]);
  });

  it('throttles to about ten a second: the first at once, the latest when the window ends', async () => {
    const started = Date.now();
    const outcome = await harness.run(
      `async () => {
        for (let i = 1; i <= 10000; i++) {
          progress(i / 10000, 'step ' + i);
          if (i % 500 === 0) await new Promise(r => setTimeout(r, 10));
        }
        await new Promise(r => setTimeout(r, 200));
        return 1;
      }`,
    );
    const spanMs = Date.now() - started;
    expect(outcome.status).to.equal('COMPLETED');
    const got = of(outcome.id);
    expect(got[0]).to.deep.equal({ value: 0.0001, note: 'step 1' });
    expect(got.at(-1)).to.deep.equal({ value: 1, note: 'step 10000' });
    // One per 100 ms window at most, plus the first.
    expect(got.length).to.be.at.most(Math.ceil(spanMs / 100) + 1);
  });

  it('sends nothing held once the task ended, and a later task starts a fresh window', async () => {
    const first = await harness.run(
      '() => { for (let i = 0; i < 100; i++) progress(i / 100); return 1 }',
    );
    // The first call went at once; the held 0.99 died with the task.
    expect(of(first.id)).to.deep.equal([{ value: 0, note: undefined }]);
    const second = await harness.run('() => { progress(0.5); return 2 }');
    expect(of(second.id)).to.deep.equal([{ value: 0.5, note: undefined }]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(of(first.id)).to.have.length(1);
  });
});
