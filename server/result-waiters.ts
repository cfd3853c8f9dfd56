/**
 * Long-poll waiters, woken from the completion path (store events), never by
 * polling the store. Each waiter is removed on wake or timeout; the number
 * parked at once is bounded.
 */

import { TooManyError } from '../shared/errors.js';
import type { TaskOutcome } from '../shared/types.js';

/** How a wait ended: finished (with the outcome when this process applied it) or timed out. */
export interface WaitEnd {
  finished: boolean;
  outcome?: TaskOutcome | undefined;
}

type Wake = (end: WaitEnd) => void;

const TIMED_OUT: WaitEnd = { finished: false };

export class ResultWaiters {
  readonly #byId = new Map<string, Set<Wake>>();
  readonly #max: number;
  #count = 0;

  constructor(maxParked: number) {
    this.#max = maxParked;
  }

  /**
   * Resolves true when `id` finishes, false after `ms`. Register before reading
   * the task so that a finish between the read and the wait is not missed.
   */
  wait(id: string, ms: number): { promise: Promise<WaitEnd>; cancel: () => void } {
    if (this.#count >= this.#max) {
      throw new TooManyError(
        `Too many parked long-polls (limit ${this.#max}); retry without ?wait`,
      );
    }
    let wake: Wake = () => {};
    const promise = new Promise<WaitEnd>((resolve) => {
      wake = resolve;
    });
    let set = this.#byId.get(id);
    if (!set) {
      set = new Set();
      this.#byId.set(id, set);
    }
    const entry: Wake = (end) => {
      clearTimeout(timer);
      this.#remove(id, entry);
      wake(end);
    };
    set.add(entry);
    this.#count++;
    const timer = setTimeout(entry, ms, TIMED_OUT);
    return { promise, cancel: () => entry(TIMED_OUT) };
  }

  notify(ids: readonly string[], outcomes?: readonly TaskOutcome[]): void {
    if (this.#count === 0) return;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const set = this.#byId.get(id);
      if (!set) continue;
      // Outcomes, when given, line up with ids (the store emits them together).
      const outcome = outcomes?.[i]?.id === id ? outcomes[i] : undefined;
      for (const wake of [...set]) wake({ finished: true, outcome });
    }
  }

  /** Events may have been missed: every waiter looks at its task again. */
  resync(): void {
    for (const set of [...this.#byId.values()]) {
      for (const wake of [...set]) wake({ finished: true });
    }
  }

  clear(): void {
    for (const set of [...this.#byId.values()]) for (const wake of [...set]) wake(TIMED_OUT);
  }

  #remove(id: string, entry: Wake): void {
    const set = this.#byId.get(id);
    if (!set?.delete(entry)) return;
    this.#count--;
    if (set.size === 0) this.#byId.delete(id);
  }
}
