/**
 * Takes tasks from the store whenever someone has room for them, one claim
 * at a time. It runs when woken (a task was queued, capacity freed up) and
 * sleeps when the queue is dry or nobody has room: no polling.
 */

import type { TaskAssignment } from '../../shared/types.js';
import type { ClaimResult, EnqueueResult, NewTask, TaskStore } from '../store/task-store.js';

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
  readonly #onClaimed: (claim: ClaimResult) => void;
  #running = false;
  #again = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    store: TaskStore,
    leaseMs: number,
    next: () => Demand | undefined,
    onError: (error: unknown) => void,
    onClaimed: (claim: ClaimResult) => void = () => {},
  ) {
    this.#onClaimed = onClaimed;
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

  /**
   * Stores new tasks. When someone has room and no claim is under way, the
   * same round trip also leases tasks to them (enqueue-claim), which takes a
   * Redis call and a wake-up off every submit. Resolves once the tasks are
   * stored; handing them on happens after.
   */
  async submit(tasks: readonly NewTask[]): Promise<EnqueueResult> {
    const demand = this.#running || this.#stopped ? undefined : this.#next();
    if (!demand || demand.max <= 0) return this.#store.enqueue(tasks);
    this.#running = true;
    let claimed: ClaimResult & EnqueueResult;
    try {
      claimed = await this.#store.enqueueAndClaim(
        tasks,
        Math.min(demand.max, MAX_CLAIM),
        demand.owner,
        this.#leaseMs,
      );
    } catch (error) {
      this.#running = false;
      // Wakes that came while this call was under way were meant for the loop: run it.
      if (this.#again) this.wake();
      throw error;
    }
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
        const demand = this.#next();
        if (!demand || demand.max <= 0) break;
        const claim = await this.#store.claim(
          Math.min(demand.max, MAX_CLAIM),
          demand.owner,
          this.#leaseMs,
        );
        const { tasks, drained } = claim;
        if (tasks.length > 0) {
          this.#onClaimed(claim);
          await demand.deliver(tasks);
        }
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
