/**
 * What the harness knows about each task it got a 2xx for: what it must end
 * with, every terminal outcome anyone saw (long-polls, re-reads, socket
 * subscribers, the final read), who held its lease, and what the store says
 * at the end. A task's first terminal observation is its reference: any
 * later read that differs from it, or that shows it non-terminal again, is a
 * change after terminal.
 */

import type { Expectation, KindName, Params } from './task-kinds.js';
import { short } from './task-kinds.js';

export interface Observation {
  at: number;
  status: string;
  result: string | undefined;
  via: string;
}

export interface FinalRecord {
  status: string | undefined;
  result: string | undefined;
  attempts: number;
  /** Claims handed back unrun (a shutdown, a claim whose reply came too late): not runs. */
  released: number;
  finished: number | undefined;
  /** When its last claim took it (the store's `started`). */
  started?: number | undefined;
}

export const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export class TrackedTask {
  readonly id: string;
  readonly nonce: string;
  readonly kind: KindName;
  readonly params: Params;
  readonly op: number;
  /** When the 2xx came. */
  readonly ackAt: number;
  readonly server: string;
  readonly timeoutMs: number;
  expected: Expectation;
  firstTerminal: Observation | undefined;
  /** Observations that contradict the first terminal one. */
  readonly changes: string[] = [];
  pollLearned: Observation | undefined;
  readonly subLearned = new Map<string, Observation>();
  /** When it was first seen RUNNING (sampled), i.e. taken by a worker; undefined: never seen. */
  firstRunningAt: number | undefined = undefined;
  /** Lease owners seen while it ran → the highest attempt seen with that owner. */
  readonly owners = new Map<string, number>();
  /** A rogue worker held it: its result is whatever the rogue made of it. */
  rogue = false;
  final: FinalRecord | undefined;

  constructor(init: {
    id: string;
    nonce: string;
    kind: KindName;
    params: Params;
    op: number;
    ackAt: number;
    server: string;
    timeoutMs: number;
    expected: Expectation;
  }) {
    this.id = init.id;
    this.nonce = init.nonce;
    this.kind = init.kind;
    this.params = init.params;
    this.op = init.op;
    this.ackAt = init.ackAt;
    this.server = init.server;
    this.timeoutMs = init.timeoutMs;
    this.expected = init.expected;
  }

  get terminal(): boolean {
    return this.firstTerminal !== undefined;
  }
}

export class TaskBook {
  readonly tasks = new Map<string, TrackedTask>();
  /** Nonce → the HTTP answers of every submit that carried it (0: no answer). */
  readonly submitAnswers = new Map<string, number[]>();
  /** Tasks in submits that have not been answered yet. */
  pendingItems = 0;
  readonly #listeners: ((task: TrackedTask) => void)[] = [];

  onAccepted(listener: (task: TrackedTask) => void): void {
    this.#listeners.push(listener);
  }

  accept(task: TrackedTask): void {
    if (this.tasks.has(task.id)) return;
    this.tasks.set(task.id, task);
    for (const listener of this.#listeners) listener(task);
  }

  noteSubmit(nonces: readonly string[], http: number): void {
    for (const nonce of nonces) {
      const list = this.submitAnswers.get(nonce);
      if (list) list.push(http);
      else this.submitAnswers.set(nonce, [http]);
    }
  }

  /** Records a read of the task that began at `start` and was answered at `end`. */
  observe(
    id: string,
    status: string,
    result: string | undefined,
    start: number,
    end: number,
    via: string,
  ): Observation | undefined {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    const seen: Observation = { at: end, status, result, via };
    const first = task.firstTerminal;
    if (TERMINAL.has(status)) {
      if (!first) task.firstTerminal = seen;
      else if (first.status !== status || first.result !== result) {
        task.changes.push(
          `${via} read ${status} ${short(result, 80)} after ${first.via} read ${first.status} ${short(first.result, 80)}`,
        );
      }
      return seen;
    }
    // Began after the task was already seen terminal, yet read it as not terminal.
    if (first && start > first.at) {
      task.changes.push(`${via} read ${status} after ${first.via} read ${first.status}`);
    }
    return seen;
  }
}
