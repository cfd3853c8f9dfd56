/**
 * Takes tasks from the store whenever someone has room for them, one claim
 * at a time. It runs when woken (a task was queued, capacity freed up) and
 * sleeps when the queue is dry or nobody has room: no polling.
 *
 * A claim that found nothing for a holder's lanes (its labels and tenant:
 * its filter), with no queue event since, means a wake for room alone (a
 * result came back, a worker connected) has nothing to claim for holders
 * with that filter: it costs no store round trip, and they are passed over
 * while others may still claim. Every way into the queue emits a queue
 * event (an enqueue or hand-back here, a peer's through pub/sub, a resync
 * after the event connection was cut), and `queued()` takes it.
 */

import type { TaskAssignment } from '../../shared/types.js';
import type { ClaimFilter } from '../store/lanes.js';
import type { ClaimResult, EnqueueResult, NewTask, TaskStore } from '../store/task-store.js';

export interface Demand {
  max: number;
  /** Lease owner recorded on the claimed tasks. */
  owner: string;
  /** Which lanes it may take from (its holder's labels and tenant). */
  filter: ClaimFilter;
  deliver(tasks: TaskAssignment[]): void | Promise<void>;
}

/** True when the last claim for this filter found nothing and no queue event came since. */
export type KnownEmpty = (filterKey: string) => boolean;

/** Claims larger than this are split: one Lua call should not block Redis for long. */
const MAX_CLAIM = 1000;
const RETRY_MS = 250;

export class ClaimLoop {
  readonly #store: TaskStore;
  readonly #leaseMs: number;
  readonly #next: (known: KnownEmpty) => Demand | undefined;
  readonly #onError: (error: unknown) => void;
  readonly #onClaimed: (claim: ClaimResult) => void;
  #running = false;
  #again = false;
  /** Filters whose last claim found nothing, with no queue event since. */
  readonly #empty = new Set<string>();
  readonly #known: KnownEmpty = (key) => this.#empty.has(key);
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    store: TaskStore,
    leaseMs: number,
    next: (known: KnownEmpty) => Demand | undefined,
    onError: (error: unknown) => void,
    onClaimed: (claim: ClaimResult) => void = () => {},
  ) {
    this.#onClaimed = onClaimed;
    this.#store = store;
    this.#leaseMs = leaseMs;
    this.#next = next;
    this.#onError = onError;
  }

  /** Tasks may have been queued: look at the queue when someone has room. */
  queued(): void {
    this.#empty.clear();
    this.wake();
  }

  /** Someone may have room: look at the queue, unless it is known to be empty for them. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#run();
  }

  /**
   * Stores new tasks. When someone has room and no claim is under way, the
   * same round trip also leases tasks to them (enqueue-claim), which takes a
   * Redis call and a wake-up off every submit. Resolves once the tasks are
   * stored; handing them on happens after.
   */
  async submit(tasks: readonly NewTask[]): Promise<EnqueueResult> {
    // Only the first demand: a claim for another filter would wait on this submit.
    const demand = this.#running || this.#stopped ? undefined : this.#next(() => false);
    if (!demand || demand.max <= 0) return this.#store.enqueue(tasks);
    this.#running = true;
    // New tasks: every filter may have something again; what this call leaves decides its own.
    this.#empty.clear();
    let claimed: ClaimResult & EnqueueResult;
    try {
      claimed = await this.#store.enqueueAndClaim(
        tasks,
        Math.min(demand.max, MAX_CLAIM),
        demand.owner,
        this.#leaseMs,
        demand.filter,
      );
    } catch (error) {
      this.#running = false;
      // Wakes that came while this call was under way were meant for the loop: run it.
      if (this.#again) this.wake();
      throw error;
    }
    if (claimed.drained && !this.#again) this.#empty.add(demand.filter.key);
    void this.#handOn(demand, claimed);
    return { duplicates: claimed.duplicates };
  }

  async #handOn(demand: Demand, claimed: ClaimResult): Promise<void> {
    try {
      if (claimed.tasks.length > 0) {
        this.#onClaimed(claimed);
        await demand.deliver(claimed.tasks);
      }
    } catch (error) {
      // deliver hands back what it could not hand on; this is only reported.
      this.#onError(error);
    } finally {
      this.#running = false;
    }
    this.wake();
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
        // Holders whose filter is known to have nothing are passed over.
        const demand = this.#next(this.#known);
        if (!demand || demand.max <= 0) break;
        const key = demand.filter.key;
        const claim = await this.#store.claim(
          Math.min(demand.max, MAX_CLAIM),
          demand.owner,
          this.#leaseMs,
          demand.filter,
        );
        const { tasks, drained } = claim;
        // A queue event during the claim (it cleared the set) may mean new tasks: look again.
        if (drained && !this.#again) this.#empty.add(key);
        if (tasks.length > 0) {
          this.#onClaimed(claim);
          await demand.deliver(tasks);
        }
      }
    } catch (error) {
      this.#empty.clear();
      this.#onError(error);
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.wake(), RETRY_MS);
      this.#retry.unref();
    } finally {
      this.#running = false;
    }
  }
}
