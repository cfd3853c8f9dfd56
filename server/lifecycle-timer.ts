/**
 * Each server's clock for the store's timed work (TaskStore.promoteDue):
 * delayed tasks and retry backoffs becoming QUEUED, deadlines failing tasks
 * that never started. No polling: the timer is armed for the earliest time
 * anything waits for, learnt from the store's reply and from `due` events
 * (this server's submits and results, and other servers' through Redis).
 * Several servers may run it at once; each call is atomic in the store, so
 * a task is promoted or failed once.
 */

import type { Logger } from 'pino';
import type { TaskStore } from './store/task-store.js';

/** How often the listing indexes are trimmed of expired tasks. */
const TRIM_EVERY_MS = 30_000;
/** Trim calls in a row at most, when each finds only expired entries. */
const TRIM_ROUNDS = 50;
/** After a failed call (the store was away), look again this soon. */
const RETRY_MS = 1_000;
/** setTimeout's longest delay; a later time is re-armed when it is reached. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class LifecycleTimer {
  readonly #store: TaskStore;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (ms since epoch). */
  #armedAt = Number.POSITIVE_INFINITY;
  #running = false;
  /** A run was asked for while one was running: run again when it ends. */
  #again = false;
  #stopped = false;
  #unsubscribe: (() => void) | undefined;
  #trimTimer: NodeJS.Timeout | undefined;

  constructor(store: TaskStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** Subscribes and runs once now: anything that fell due while no server ran is handled. */
  start(): void {
    this.#unsubscribe = this.#store.subscribe((event) => {
      if (event.type === 'due') this.#arm(event.at);
      else if (event.type === 'resync') this.#arm(Date.now());
    });
    this.#arm(Date.now());
    this.#trimTimer = setInterval(() => void this.#trim(), TRIM_EVERY_MS);
    this.#trimTimer.unref();
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearTimeout(this.#timer);
    clearInterval(this.#trimTimer);
  }

  /** Housekeeping, not a deadline: expired tasks leave the listing indexes. */
  async #trim(): Promise<void> {
    try {
      for (let round = 0; round < TRIM_ROUNDS && !this.#stopped; round++) {
        if (!(await this.#store.trimIndexes()).more) break;
      }
    } catch (error) {
      this.#log.debug({ err: error }, 'lifecycle timer: trimming the task index failed');
    }
  }

  /** Makes sure a run happens at `at` or earlier. */
  #arm(at: number): void {
    if (this.#stopped || at >= this.#armedAt) return;
    clearTimeout(this.#timer);
    this.#armedAt = at;
    const wait = Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#armedAt = Number.POSITIVE_INFINITY;
      void this.#run();
    }, wait);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      let result = await this.#store.promoteDue(Date.now());
      while (result.more && !this.#stopped) result = await this.#store.promoteDue(Date.now());
      if (result.nextDue !== undefined) this.#arm(result.nextDue);
    } catch (error) {
      if (!this.#stopped) {
        this.#log.warn({ err: error }, 'lifecycle timer: the store did not answer; retrying');
        this.#arm(Date.now() + RETRY_MS);
      }
    } finally {
      this.#running = false;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        this.#arm(Date.now());
      }
    }
  }
}
