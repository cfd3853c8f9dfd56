/**
 * ProgressWriter (server/dispatch/progress-writer.ts): the server's own
 * per-task throttle between task holders and the store.
 */

import { expect } from 'chai';
import { pino } from 'pino';
import { ProgressWriter } from '../server/dispatch/progress-writer.js';
import { MemoryStore } from '../server/store/memory-store.js';
import type { Progress, TaskStore } from '../server/store/task-store.js';
import { PROGRESS_INTERVAL_MS } from '../shared/progress.js';
import { sleep, until } from './helpers/wait.js';

interface Call {
  id: string;
  attempt: number;
  progress: Progress;
}

/** A store that only records setProgress calls (answering true), or fails them. */
function recordingStore(fail = false): { store: TaskStore; calls: Call[] } {
  const calls: Call[] = [];
  const inner = new MemoryStore();
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'setProgress') {
        return async (id: string, attempt: number, progress: Progress) => {
          calls.push({ id, attempt, progress });
          if (fail) throw new Error('store away');
          return true;
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, calls };
}

const log = pino({ level: 'silent' });

describe('ProgressWriter', () => {
  it('writes the first update at once and the latest of a burst when the window ends, then forgets the task', async () => {
    const { store, calls } = recordingStore();
    const writer = new ProgressWriter(store, log);
    const before = Date.now();
    for (let i = 1; i <= 1000; i++)
      writer.offer({ id: 'a', attempt: 2, value: i / 1000, note: `n${i}` });
    writer.offer({ id: 'b', attempt: 1, value: 0.5 });
    expect(calls.map((c) => [c.id, c.progress.value])).to.deep.equal([
      ['a', 0.001],
      ['b', 0.5],
    ]);
    expect(calls[1]?.progress).to.not.have.property('note');
    const done = await until(
      async () => calls.length,
      (n) => n >= 3,
      5000,
      10,
    );
    expect(done).to.equal(3);
    expect(calls[2]).to.deep.include({ id: 'a', attempt: 2 });
    expect(calls[2]?.progress).to.include({ value: 1, note: 'n1000' });
    // `at` is when the update arrived, not when it was written.
    expect(calls[2]?.progress.at).to.be.within(before, before + PROGRESS_INTERVAL_MS);
    // Quiet windows close: nothing is kept for tasks that stopped reporting.
    await until(
      async () => writer.size,
      (n) => n === 0,
      5000,
      10,
    );
    expect(writer.size).to.equal(0);
    expect(calls).to.have.length(3);
    writer.close();
  });

  it('drops what is held on close, and a store that fails costs nothing but the update', async () => {
    const { store, calls } = recordingStore(true);
    const writer = new ProgressWriter(store, log);
    writer.offer({ id: 'a', attempt: 1, value: 0.1 });
    writer.offer({ id: 'a', attempt: 1, value: 0.2 });
    writer.close();
    writer.offer({ id: 'c', attempt: 1, value: 0.3 });
    await sleep(PROGRESS_INTERVAL_MS * 2);
    expect(calls.map((c) => c.progress.value)).to.deep.equal([0.1]);
    expect(writer.size).to.equal(0);
  });
});
