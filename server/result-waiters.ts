/**
 * Long-poll waiters, woken from the completion path (store events), never by
 * polling the store. Each waiter is removed on wake or timeout; the number
 * parked at once is bounded.
 */

import { TooManyError } from '../shared/errors.js';

type Wake = (finished: boolean) => void;

export class ResultWaiters {
  readonly #byId = new Map<string, Set<Wake>>();
  readonly #max: number;
  #count = 0;

  constructor(maxParked: number) {
    this.#max = maxParked;
  }

  get parked(): number {
    return this.#count;
  }

  /**
   * Resolves true when `id` finishes, false after `ms`. Register before reading
   * the task so that a finish between the read and the wait is not missed.
   */
  wait(id: string, ms: number): { promise: Promise<boolean>; cancel: () => void } {
    if (this.#count >= this.#max) {
      throw new TooManyError(
        `Too many parked long-polls (limit ${this.#max}); retry without ?wait`,
      );
    }
    let wake: Wake = () => {};
    const promise = new Promise<boolean>((resolve) => {
      wake = resolve;
    });
    let set = this.#byId.get(id);
    if (!set) {
      set = new Set();
      this.#byId.set(id, set);
    }
    const entry: Wake = (finished) => {
      clearTimeout(timer);
      this.#remove(id, entry);
      wake(finished);
    };
    set.add(entry);
    this.#count++;
    const timer = setTimeout(entry, ms, false);
    return { promise, cancel: () => entry(false) };
  }

  notify(ids: readonly string[]): void {
    if (this.#count === 0) return;
    for (const id of ids) {
      const set = this.#byId.get(id);
      if (!set) continue;
      for (const wake of [...set]) wake(true);
    }
  }

  clear(): void {
    for (const set of [...this.#byId.values()]) for (const wake of [...set]) wake(false);
  }

  #remove(id: string, entry: Wake): void {
    const set = this.#byId.get(id);
    if (!set?.delete(entry)) return;
    this.#count--;
    if (set.size === 0) this.#byId.delete(id);
  }
}
