/**
 * Writes task outcomes to the store in batches: everything that arrived
 * while the previous write was in flight goes in the next one, so one
 * round trip carries many results. While the store is unreachable, outcomes
 * wait in a bounded buffer and are written when it returns; past the bound
 * the oldest are dropped and their tasks run again when their lease ends
 * (at-least-once).
 */

import { UnavailableError } from '../../shared/errors.js';
import type { TaskOutcome } from '../../shared/types.js';
import type { TaskStore } from '../store/task-store.js';

const RETRY_MS = 200;

export class OutcomeWriter {
  readonly #store: TaskStore;
  readonly #maxBuffered: number;
  readonly #onError: (error: unknown) => void;
  #buffer: TaskOutcome[] = [];
  #writing: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #dropped = 0;

  constructor(store: TaskStore, maxBuffered: number, onError: (error: unknown) => void) {
    this.#store = store;
    this.#maxBuffered = maxBuffered;
    this.#onError = onError;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  add(outcomes: readonly TaskOutcome[]): void {
    for (const outcome of outcomes) this.#buffer.push(outcome);
    const excess = this.#buffer.length - this.#maxBuffered;
    if (excess > 0) {
      this.#buffer.splice(0, excess);
      this.#dropped += excess;
    }
    this.#kick();
  }

  /** Resolves when everything buffered so far was written (or the store failed). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  stop(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** Starts a write unless one is running, a retry is pending, or there is nothing to write. */
  #kick(): void {
    if (this.#writing || this.#retry || this.#buffer.length === 0) return;
    // Cleared in `finally`, which always runs after this assignment, even for a write that
    // finishes at once.
    this.#writing = this.#write().finally(() => {
      this.#writing = undefined;
    });
  }

  async #write(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer;
      this.#buffer = [];
      try {
        await this.#store.complete(batch);
      } catch (error) {
        this.#buffer = batch.concat(this.#buffer);
        this.#onError(error);
        if (error instanceof UnavailableError) {
          this.#retry = setTimeout(() => {
            this.#retry = undefined;
            this.#kick();
          }, RETRY_MS);
          this.#retry.unref();
        }
        break;
      }
    }
  }
}
