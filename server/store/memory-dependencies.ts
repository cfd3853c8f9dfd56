/**
 * Results as arguments in the memory store: the twin of lua/dependencies.ts
 * (read that header for the rules). A task with references waits (WAITING)
 * until its dependencies COMPLETED, then its arguments are rebuilt with
 * their result texts in place of the references and it is queued; one that
 * ends otherwise fails its dependents with DependencyFailedError, down a
 * chain, walking a stack rather than recursing.
 *
 * The store calls `ended` for every task that ends; it costs a Map lookup
 * for a task nobody waits for.
 */

import { type DependencyEnd, DependencyFailedError } from '../../shared/errors.js';
import type { StoreEvent, TaskRecord, TaskReference } from './task-store.js';

/** What the dependency rules need from the store. */
export interface DependencyHost {
  task(id: string): TaskRecord | undefined;
  /** The task's place in submit order. */
  seq(id: string): number;
  /** Ends a task FAILED with this result (the store then calls `ended` for it). */
  fail(task: TaskRecord, result: string, now: number): void;
  /** Ends a task CANCELLED (its function was deleted while it waited); `ended` follows. */
  cancel(task: TaskRecord, now: number): void;
  functionExists(id: string): boolean;
  /**
   * A WAITING task whose dependencies all COMPLETED: queue it (true), or
   * keep it WAITING until its run_at (false).
   */
  ready(task: TaskRecord, now: number): boolean;
}

/** The FAILED result of a task whose dependency ended `how` (the Lua steps store the same text). */
export function dependencyFailedResult(dependency: string, how: DependencyEnd): string {
  return JSON.stringify(new DependencyFailedError(dependency, how).toData());
}

function endOf(status: TaskRecord['status'] | undefined): DependencyEnd {
  if (status === undefined) return 'expired';
  return status === 'CANCELLED' ? 'cancelled' : 'failed';
}

export class MemoryDependencies {
  readonly #host: DependencyHost;
  /** Dependency id → the WAITING tasks that take its result. */
  readonly #dependents = new Map<string, Set<string>>();
  /** Dependent id → how many dependencies have not COMPLETED. */
  readonly #left = new Map<string, number>();
  /** Task id → its references, until its arguments are built (kept when it failed, for a retry). */
  readonly #refs = new Map<string, readonly TaskReference[]>();
  /** Tasks that ended and whose dependents are still to be seen to. */
  readonly #stack: TaskRecord[] = [];
  #draining = false;
  // What to announce when the store's call ends.
  #failed: string[] = [];
  #queued = 0;
  /** The highest priority among the tasks released (as an enqueue announces it). */
  #highest: number | undefined;
  #due: number | undefined;

  constructor(host: DependencyHost) {
    this.#host = host;
  }

  /** This task's arguments still hold references: a retry must wait for them again. */
  unresolved(id: string): readonly TaskReference[] | undefined {
    return this.#refs.get(id);
  }

  /**
   * A task being stored (or retried) with references: true when it now waits
   * (WAITING) or failed at once; false when every dependency had COMPLETED,
   * its arguments are built, and the caller queues it as any task.
   */
  hold(task: TaskRecord, refs: readonly TaskReference[], now: number): boolean {
    this.#refs.set(task.id, refs);
    const pending = new Set<string>();
    for (const { id } of refs) {
      const dep = this.#host.task(id);
      if (dep === undefined || dep.status === 'FAILED' || dep.status === 'CANCELLED') {
        this.#fail(task, dependencyFailedResult(id, endOf(dep?.status)), now);
        return true;
      }
      if (dep.status !== 'COMPLETED') pending.add(id);
    }
    if (pending.size === 0) return !this.#build(task, now);
    for (const id of pending) {
      let set = this.#dependents.get(id);
      if (!set) {
        set = new Set();
        this.#dependents.set(id, set);
      }
      set.add(task.id);
    }
    this.#left.set(task.id, pending.size);
    task.status = 'WAITING';
    return true;
  }

  /** A task ended (any terminal status): release or fail what waits for it. */
  ended(task: TaskRecord, now: number): void {
    this.#left.delete(task.id);
    if (!this.#dependents.has(task.id)) return;
    this.#stack.push(task);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#stack.pop(); next; next = this.#stack.pop()) this.#settle(next, now);
    } finally {
      this.#draining = false;
    }
  }

  /** The task expired (its TTL ran out): nothing of it is kept. */
  forget(id: string): void {
    this.#refs.delete(id);
  }

  /** Emits what this call did to dependents, then starts afresh. */
  flush(emit: (event: StoreEvent) => void): void {
    if (this.#failed.length > 0) emit({ type: 'finished', ids: this.#failed });
    if (this.#queued > 0) emit({ type: 'queued', priority: this.#highest ?? 0 });
    if (this.#due !== undefined) emit({ type: 'due', at: this.#due });
    this.#failed = [];
    this.#queued = 0;
    this.#highest = undefined;
    this.#due = undefined;
  }

  #settle(root: TaskRecord, now: number): void {
    const set = this.#dependents.get(root.id);
    this.#dependents.delete(root.id);
    if (!set) return;
    // In submit order, as the Redis step releases them: FIFO within a priority holds.
    const waiting = [...set].sort((a, b) => this.#host.seq(a) - this.#host.seq(b));
    for (const id of waiting) {
      const task = this.#host.task(id);
      const left = this.#left.get(id);
      if (task?.status !== 'WAITING' || left === undefined) continue;
      if (root.status !== 'COMPLETED') {
        this.#fail(task, dependencyFailedResult(root.id, endOf(root.status)), now);
        continue;
      }
      if (left > 1) {
        this.#left.set(id, left - 1);
        continue;
      }
      this.#left.delete(id);
      if (!this.#host.functionExists(task.function_id)) {
        // Its function was deleted while it waited: cancelled, as the delete cancels what waits.
        this.#failed.push(id);
        this.#host.cancel(task, now);
        continue;
      }
      if (!this.#build(task, now)) continue;
      if (this.#host.ready(task, now)) {
        this.#queued++;
        this.#highest = Math.max(this.#highest ?? task.priority, task.priority);
      } else if (task.run_at !== undefined) {
        this.#due = Math.min(this.#due ?? task.run_at, task.run_at);
      }
    }
  }

  /** Builds the arguments from the dependencies' results; false (and the task failed) when one is gone. */
  #build(task: TaskRecord, now: number): boolean {
    const refs = this.#refs.get(task.id) ?? [];
    const pieces: string[] = [];
    let at = 0;
    for (const ref of refs) {
      const dep = this.#host.task(ref.id);
      if (dep?.status !== 'COMPLETED' || dep.result === undefined) {
        this.#fail(task, dependencyFailedResult(ref.id, 'expired'), now);
        return false;
      }
      pieces.push(task.args.slice(at, ref.start), dep.result);
      at = ref.end;
    }
    pieces.push(task.args.slice(at));
    task.args = pieces.join('');
    this.#refs.delete(task.id);
    return true;
  }

  #fail(task: TaskRecord, result: string, now: number): void {
    this.#left.delete(task.id);
    this.#failed.push(task.id);
    this.#host.fail(task, result, now);
  }
}
