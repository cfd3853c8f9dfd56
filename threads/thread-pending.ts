/**
 * Tasks a ThreadPool has accepted and not yet sent to a thread. First in,
 * first out, with one exception that keeps threads on one function: `take`
 * may first pick the tasks of a given function from near the front (the
 * pool asks for the function a thread is running). A thread that switches
 * functions checks its realm (sandbox-realm-guard.ts, about 0.1 ms), so
 * fewer switches is what lets many interleaved functions run fast; the pool
 * bounds how long a thread keeps to one function, so nothing starves.
 */

import type { TaskAssignment } from '../shared/types.js';

/** How far past the front `take` looks for a function's tasks. */
const SCAN = 1024;

export class PendingTasks {
  /** Oldest first; a taken or cancelled task leaves a hole until the front passes it. */
  #items: (TaskAssignment | undefined)[] = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(tasks: readonly TaskAssignment[]): void {
    for (const task of tasks) this.#items.push(task);
    this.#size += tasks.length;
  }

  /** Puts tasks at the front (tasks a dead thread held run first). */
  unshift(tasks: readonly TaskAssignment[]): void {
    if (tasks.length === 0) return;
    this.#items = [...tasks, ...this.#items.slice(this.#head)];
    this.#head = 0;
    this.#size += tasks.length;
  }

  /** The function of the oldest task. */
  frontFn(): string | undefined {
    this.#advance();
    return this.#items[this.#head]?.fn;
  }

  remove(taskId: string, attempt?: number): TaskAssignment | undefined {
    for (let i = this.#head; i < this.#items.length; i++) {
      const task = this.#items[i];
      if (task?.id !== taskId || (attempt !== undefined && task.attempt !== attempt)) continue;
      this.#items[i] = undefined;
      this.#size--;
      this.#advance();
      return task;
    }
    return undefined;
  }

  /**
   * Up to `room` tasks of one function, oldest first, from near the front:
   * of `fn` when there are any, else of the oldest task's function. A batch
   * of one function never makes its thread switch.
   */
  take(room: number, fn: string | undefined): TaskAssignment[] {
    const out = fn === undefined ? [] : this.#takeFn(room, fn);
    if (out.length > 0) return out;
    const front = this.frontFn();
    return front === undefined ? out : this.#takeFn(room, front);
  }

  #takeFn(room: number, fn: string): TaskAssignment[] {
    const out: TaskAssignment[] = [];
    const items = this.#items;
    const end = Math.min(items.length, this.#head + SCAN);
    for (let i = this.#head; i < end && out.length < room; i++) {
      const task = items[i];
      if (task?.fn !== fn) continue;
      out.push(task);
      items[i] = undefined;
    }
    this.#size -= out.length;
    this.#advance();
    return out;
  }

  #advance(): void {
    const items = this.#items;
    while (this.#head < items.length && items[this.#head] === undefined) this.#head++;
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head > items.length / 2) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }
}
