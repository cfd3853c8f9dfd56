/**
 * The in-flight ledger: every task a dispatcher handed to a thread or a
 * worker and has no outcome for yet, keyed by task id and fenced by attempt.
 * One ledger serves the local pool and each remote session.
 *
 * It also keeps the server's own deadline for each task, so no worker can
 * hold a task forever: the time the task may wait behind those handed out
 * before it (each one up to its timeout, spread over the threads), plus its
 * own timeout, plus a grace for the worker to report back.
 */

import type { TaskAssignment } from '../../shared/types.js';
import type { LeaseReturn } from '../store/task-store.js';

export interface HeldTask {
  id: string;
  attempt: number;
  timeout_ms: number;
  /** When the server gives up on the holder (ms since epoch). */
  deadline: number;
  priority: number;
}

export class InFlight {
  readonly #threads: number;
  readonly #graceMs: number;
  readonly #tasks = new Map<string, HeldTask>();
  /** Longest timeout among the tasks held since the ledger was last empty. */
  #longest = 0;
  /** Held tasks per priority other than 0, so a check for lower ones costs nothing in FIFO use. */
  readonly #priorities = new Map<number, number>();

  constructor(threads: number, graceMs: number) {
    this.#threads = Math.max(1, threads);
    this.#graceMs = graceMs;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /**
   * Records tasks handed out now; returns earlier attempts of the same tasks
   * that this holder still had (their results can no longer count).
   */
  add(tasks: readonly TaskAssignment[], now = Date.now()): HeldTask[] {
    const replaced: HeldTask[] = [];
    for (const task of tasks) {
      if (this.#tasks.size === 0) this.#longest = 0;
      const wait = Math.floor(this.#tasks.size / this.#threads) * this.#longest;
      const previous = this.#tasks.get(task.id);
      if (previous) {
        replaced.push(previous);
        this.#forget(previous);
      }
      const priority = task.priority ?? 0;
      this.#tasks.set(task.id, {
        id: task.id,
        attempt: task.attempt,
        timeout_ms: task.timeout_ms,
        deadline: now + wait + task.timeout_ms + this.#graceMs,
        priority,
      });
      if (priority !== 0) this.#priorities.set(priority, (this.#priorities.get(priority) ?? 0) + 1);
      this.#longest = Math.max(this.#longest, task.timeout_ms);
    }
    return replaced;
  }

  /** True when this exact attempt is held; it is then removed. */
  settle(id: string, attempt: number): boolean {
    const held = this.#tasks.get(id);
    if (held?.attempt !== attempt) return false;
    this.#tasks.delete(id);
    this.#forget(held);
    return true;
  }

  /** True when some held task has a priority other than 0. */
  get prioritized(): boolean {
    return this.#priorities.size > 0;
  }

  /** Held tasks of a priority below `priority` (none, at no cost, while all held are 0 and it is 0). */
  below(priority: number): HeldTask[] {
    let any = priority > 0;
    for (const p of this.#priorities.keys()) if (p < priority) any = true;
    if (!any) return [];
    const out: HeldTask[] = [];
    for (const held of this.#tasks.values()) if (held.priority < priority) out.push(held);
    return out;
  }

  #forget(held: HeldTask): void {
    if (held.priority === 0) return;
    const left = (this.#priorities.get(held.priority) ?? 1) - 1;
    if (left > 0) this.#priorities.set(held.priority, left);
    else this.#priorities.delete(held.priority);
  }

  has(id: string): boolean {
    return this.#tasks.has(id);
  }

  get(id: string): HeldTask | undefined {
    return this.#tasks.get(id);
  }

  /** Removes the tasks by id (whatever attempt) and returns what was held. */
  remove(ids: Iterable<string>): HeldTask[] {
    const out: HeldTask[] = [];
    for (const id of ids) {
      const held = this.#tasks.get(id);
      if (!held) continue;
      this.#tasks.delete(id);
      this.#forget(held);
      out.push(held);
    }
    return out;
  }

  /** Held tasks past their deadline, removed from the ledger. */
  takeOverdue(now: number): HeldTask[] {
    const out: HeldTask[] = [];
    for (const held of this.#tasks.values()) if (held.deadline <= now) out.push(held);
    for (const held of out) {
      this.#tasks.delete(held.id);
      this.#forget(held);
    }
    return out;
  }

  leases(): LeaseReturn[] {
    return [...this.#tasks.values()].map(({ id, attempt }) => ({ id, attempt }));
  }

  /** Everything held, removed from the ledger. */
  takeAll(): LeaseReturn[] {
    const out = this.leases();
    this.#tasks.clear();
    this.#priorities.clear();
    return out;
  }

  ids(): IterableIterator<string> {
    return this.#tasks.keys();
  }
}
