/** The pool's queue of tasks not yet sent to a thread. */

import { expect } from 'chai';
import type { TaskAssignment } from '../shared/types.js';
import { PendingTasks } from '../threads/thread-pending.js';

function tasks(fns: string[], from = 0): TaskAssignment[] {
  return fns.map((fn, i) => ({
    id: `t${from + i}`,
    fn,
    args: '[]',
    attempt: 1,
    timeout_ms: 1000,
  }));
}
const ids = (list: TaskAssignment[]) => list.map((t) => t.id);

describe('PendingTasks', () => {
  it('gives batches of one function: the asked one, else the oldest task’s', () => {
    const pending = new PendingTasks();
    pending.push(tasks(['a', 'b', 'a', 'c', 'b', 'a']));
    expect(ids(pending.take(10, 'b'))).to.deep.equal(['t1', 't4']);
    expect(ids(pending.take(2, undefined))).to.deep.equal(['t0', 't2']);
    expect(ids(pending.take(10, 'z'))).to.deep.equal(['t3']);
    expect(ids(pending.take(10, 'a'))).to.deep.equal(['t5']);
    expect(pending.size).to.equal(0);
    expect(pending.take(10, 'a')).to.deep.equal([]);
  });

  it('removes a task by id, and puts retried tasks first', () => {
    const pending = new PendingTasks();
    pending.push(tasks(['a', 'a', 'a']));
    expect(pending.remove('t1')?.id).to.equal('t1');
    expect(pending.remove('t1')).to.equal(undefined);
    pending.unshift(tasks(['a'], 9));
    expect(ids(pending.take(10, 'a'))).to.deep.equal(['t9', 't0', 't2']);
  });

  it('keeps every task through many takes (no loss when the front moves past holes)', () => {
    const pending = new PendingTasks();
    const fns = Array.from({ length: 20_000 }, (_, i) => `f${i % 7}`);
    pending.push(tasks(fns));
    const seen = new Set<string>();
    let round = 0;
    while (pending.size > 0) {
      for (const task of pending.take(50, `f${round++ % 3}`)) seen.add(task.id);
    }
    expect(seen.size).to.equal(20_000);
  });
});
