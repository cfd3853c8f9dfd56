/**
 * Takes tasks from the store whenever someone has room for them, one claim
 * at a time. It runs when woken (a task was queued, capacity freed up) and
 * sleeps when the queue is dry or nobody has room: no polling.
 */

import type { TaskAssignment } from '../../shared/types.js';
import type { TaskStore } from '../store/task-store.js';

export interface Demand {
  max: number;
  /** Lease owner recorded on the claimed tasks. */
  owner: string;
  deliver(tasks: TaskAssignment[]): void | Promise<void>;
}

/** Claims larger than this are split: one Lua call should not block Redis for long. */
const MAX_CLAIM = 1000;
const RETRY_MS = 250;

export class ClaimLoop {
  readonly #store: TaskStore;
  readonly #leaseMs: number;
  readonly #next: () => Demand | undefined;
  readonly #onError: (error: unknown) => void;
  #running = false;
  #again = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    store: TaskStore,
    leaseMs: number,
    next: () => Demand | undefined,
    onError: (error: unknown) => void,
  ) {
    this.#store = store;
    this.#leaseMs = leaseMs;
    this.#next = next;
    this.#onError = onError;
  }

  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#stopped) {
        this.#again = false;
        const demand = this.#next();
        if (!demand || demand.max <= 0) break;
        const { tasks, drained } = await this.#store.claim(
          Math.min(demand.max, MAX_CLAIM),
          demand.owner,
          this.#leaseMs,
        );
        if (tasks.length > 0) await demand.deliver(tasks);
        // A wake that came in while we claimed may mean new tasks: look again.
        if (drained && !this.#again) break;
      }
    } catch (error) {
      this.#onError(error);
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.wake(), RETRY_MS);
      this.#retry.unref();
    } finally {
      this.#running = false;
    }
  }
}
