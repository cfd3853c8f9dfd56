/**
 * Who held which task, for the three-server run: reads the leases ZSET (what
 * is in flight, a few thousand ids at most) every few hundred ms, and on
 * demand at a fault, and notes each holder in the task book the way
 * `StoreReader.sampleOwners` does (lease owners, first seen RUNNING, an
 * `owner` event in the history). A lease can be read before its task's
 * submit was answered (a server claims a batch before the client has its
 * ids): such holders wait until `stop()` and are noted then.
 */

import type { History } from './history.js';
import type { LeaseHolder, StoreReader } from './store-reader.js';
import type { TaskBook, TrackedTask } from './task-book.js';

export class LeaseSampler {
  readonly #store: StoreReader;
  readonly #book: TaskBook;
  readonly #history: History;
  readonly #unknown: { holder: LeaseHolder; at: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(store: StoreReader, book: TaskBook, history: History) {
    this.#store = store;
    this.#book = book;
    this.#history = history;
  }

  start(everyMs: number): void {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void this.snapshot()
        .catch(() => [])
        .finally(() => {
          this.#busy = false;
        });
    }, everyMs);
  }

  /** Reads every lease now and notes its holder; returns what it read. */
  async snapshot(): Promise<LeaseHolder[]> {
    const at = Date.now();
    const holders = await this.#store.leaseHolders();
    for (const holder of holders) {
      const task = this.#book.tasks.get(holder.id);
      if (task) this.#note(task, holder, at);
      else this.#unknown.push({ holder, at });
    }
    return holders;
  }

  /** Stops sampling and notes the holders of tasks acknowledged since they were read. */
  stop(): void {
    clearInterval(this.#timer);
    for (const { holder, at } of this.#unknown.splice(0)) {
      const task = this.#book.tasks.get(holder.id);
      if (task) this.#note(task, holder, at);
    }
  }

  #note(task: TrackedTask, holder: LeaseHolder, at: number): void {
    if (task.firstRunningAt === undefined || at < task.firstRunningAt) task.firstRunningAt = at;
    if ((task.owners.get(holder.owner) ?? -1) >= holder.attempt) return;
    task.owners.set(holder.owner, holder.attempt);
    this.#history.record({
      kind: 'owner',
      start: at,
      end: at,
      tasks: [task.id],
      status: 'RUNNING',
      detail: `owner ${holder.owner} attempt ${holder.attempt}`,
    });
  }
}
