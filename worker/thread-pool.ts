/**
 * Our ThreadPool: worker_threads that run task batches, with per-task
 * timeouts, cancel, and a replacement thread whenever one dies.
 *
 * Why not node-worker-threads-pool directly: its threads inherit a copy of
 * the parent's environment (a task could read TASKGRID_TOKEN), a thread that
 * calls process.exit() leaves its task's promise pending forever, and it
 * posts one message per task. Those are contract failures, so the library is
 * kept as a perf baseline (perf/) while this pool runs the grid.
 */

import { type ResourceLimits, Worker } from 'node:worker_threads';
import { CancelledError, ThreadExitError, TimeoutError, toErrorData } from '../shared/errors.js';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../shared/types.js';
import {
  type FromThread,
  SEQ_INDEX,
  STARTED_INDEX,
  STATE_BYTES,
  type ThreadData,
  type ToThread,
} from './thread-messages.js';

export interface ThreadPool {
  readonly threads: number;
  /** Tasks accepted and not yet finished. */
  readonly active: number;
  /** Makes function sources known; a thread receives each once, with its first task. */
  addFunctions(functions: readonly FunctionSource[]): void;
  run(tasks: readonly TaskAssignment[]): void;
  /**
   * Ends a task the pool holds (CANCELLED outcome); with `attempt`, only that
   * attempt of it. False when it holds no such task.
   */
  cancel(taskId: string, attempt?: number): boolean;
  /** Resolves when no task is held. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface ThreadPoolOptions {
  threads: number;
  maxResultBytes: number;
  resourceLimits?: ResourceLimits;
  onOutcomes: (outcomes: TaskOutcome[]) => void;
}

const RUNTIME_URL = new URL('./thread-runtime.js', import.meta.url);
const SWEEP_MS = 25;
const MAX_DEPTH = 64;

interface Held {
  seq: number;
  task: TaskAssignment;
}

/** Why the pool ended a thread, so the exit handler knows what to report. */
interface EndReason {
  seq: number;
  outcome: (task: TaskAssignment, runMs: number) => TaskOutcome;
}

class ThreadSlot {
  readonly worker: Worker;
  readonly seqView: Int32Array;
  readonly startedView: Float64Array;
  readonly known = new Set<string>();
  held: Held[] = [];
  nextSeq = 0;
  endReason: EndReason | undefined;
  lastError: unknown;

  constructor(data: ThreadData, limits: ResourceLimits | undefined) {
    this.seqView = new Int32Array(data.state, 0, 1);
    this.startedView = new Float64Array(data.state, 8 * STARTED_INDEX, 1);
    Atomics.store(this.seqView, SEQ_INDEX, -1);
    // env: {} gives the thread an empty process.env: tasks see none of our variables.
    this.worker = new Worker(RUNTIME_URL, {
      workerData: data,
      env: {},
      ...(limits ? { resourceLimits: limits } : {}),
    });
  }

  runningSeq(): number {
    return Atomics.load(this.seqView, SEQ_INDEX);
  }
}

function outcomeOf(
  task: TaskAssignment,
  status: TaskOutcome['status'],
  error: unknown,
  runMs: number,
): TaskOutcome {
  return {
    id: task.id,
    attempt: task.attempt,
    status,
    value: JSON.stringify(toErrorData(error)),
    run_ms: runMs,
  };
}

export class WorkerThreadPool implements ThreadPool {
  readonly threads: number;
  readonly #options: ThreadPoolOptions;
  readonly #functions = new Map<string, string>();
  readonly #slots: ThreadSlot[] = [];
  #pending: TaskAssignment[] = [];
  #pendingHead = 0;
  #active = 0;
  #avgRunMs = 1;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: ThreadPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new TypeError(
        `Expected \`threads\` to be a positive integer, got \`${options.threads}\``,
      );
    }
    this.threads = options.threads;
    this.#options = options;
    for (let i = 0; i < options.threads; i++) this.#slots.push(this.#spawn());
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  get active(): number {
    return this.#active;
  }

  addFunctions(functions: readonly FunctionSource[]): void {
    for (const fn of functions) this.#functions.set(fn.id, fn.source);
  }

  run(tasks: readonly TaskAssignment[]): void {
    if (this.#closed) throw new Error('The thread pool is closed');
    for (const task of tasks) this.#pending.push(task);
    this.#active += tasks.length;
    this.#pump();
  }

  cancel(taskId: string, attempt?: number): boolean {
    const matches = (task: TaskAssignment | undefined): task is TaskAssignment =>
      task?.id === taskId && (attempt === undefined || task.attempt === attempt);
    for (let i = this.#pendingHead; i < this.#pending.length; i++) {
      const task = this.#pending[i];
      if (matches(task)) {
        this.#pending.splice(i, 1);
        this.#finish([outcomeOf(task, 'CANCELLED', new CancelledError(), 0)]);
        return true;
      }
    }
    for (const slot of this.#slots) {
      const held = slot.held.find((h) => matches(h.task));
      if (!held) continue;
      if (slot.runningSeq() === held.seq) {
        this.#end(slot, {
          seq: held.seq,
          outcome: (task, runMs) => outcomeOf(task, 'CANCELLED', new CancelledError(), runMs),
        });
      } else {
        const message: ToThread = { type: 'skip', seq: held.seq };
        slot.worker.postMessage(message);
      }
      return true;
    }
    return false;
  }

  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }

  #spawn(): ThreadSlot {
    const data: ThreadData = {
      state: new SharedArrayBuffer(STATE_BYTES),
      maxResultBytes: this.#options.maxResultBytes,
    };
    const slot = new ThreadSlot(data, this.#options.resourceLimits);
    slot.worker.on('message', (message: FromThread) => this.#onDone(slot, message.outcomes));
    slot.worker.on('error', (error) => {
      slot.lastError = error;
    });
    slot.worker.on('exit', (code) => this.#onExit(slot, code));
    return slot;
  }

  /** Tasks a thread may hold at once: about a millisecond of work, at least one. */
  #depth(): number {
    return Math.max(
      1,
      Math.min(MAX_DEPTH, Math.floor(1 / Math.max(this.#avgRunMs, 1 / MAX_DEPTH))),
    );
  }

  #pump(): void {
    const depth = this.#depth();
    while (this.#pendingHead < this.#pending.length) {
      let best: ThreadSlot | undefined;
      for (const slot of this.#slots) {
        if (slot.held.length < depth && (!best || slot.held.length < best.held.length)) best = slot;
      }
      if (!best) break;
      const room = depth - best.held.length;
      const end = Math.min(this.#pending.length, this.#pendingHead + room);
      const batch = this.#pending.slice(this.#pendingHead, end);
      this.#pendingHead = end;
      this.#send(best, batch);
    }
    if (this.#pendingHead === this.#pending.length) {
      this.#pending = [];
      this.#pendingHead = 0;
    }
  }

  #send(slot: ThreadSlot, tasks: TaskAssignment[]): void {
    const functions: FunctionSource[] = [];
    for (const task of tasks) {
      if (slot.known.has(task.fn)) continue;
      const source = this.#functions.get(task.fn);
      if (source === undefined) continue; // the thread reports the missing function as a failure
      slot.known.add(task.fn);
      functions.push({ id: task.fn, source });
    }
    const firstSeq = slot.nextSeq;
    for (const task of tasks) slot.held.push({ seq: slot.nextSeq++, task });
    const message: ToThread = { type: 'run', functions, tasks, firstSeq };
    slot.worker.postMessage(message);
  }

  #onDone(slot: ThreadSlot, outcomes: TaskOutcome[]): void {
    // A thread runs its tasks in order, so outcomes match the front of `held`.
    slot.held.splice(0, outcomes.length);
    let total = 0;
    for (const outcome of outcomes) total += outcome.run_ms;
    // Moving average of run time sizes the batches: many cheap tasks per message, one slow one.
    this.#avgRunMs = this.#avgRunMs * 0.8 + (total / outcomes.length) * 0.2;
    this.#finish(outcomes);
    this.#pump();
  }

  #finish(outcomes: TaskOutcome[]): void {
    this.#active -= outcomes.length;
    this.#options.onOutcomes(outcomes);
    if (this.#active === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const slot of this.#slots) {
      if (slot.endReason) continue;
      const seq = slot.runningSeq();
      if (seq < 0) continue;
      const held = slot.held.find((h) => h.seq === seq);
      if (!held) continue;
      const timeout = held.task.timeout_ms;
      if (now - (slot.startedView[0] ?? now) > timeout) {
        this.#end(slot, {
          seq,
          outcome: (task, runMs) => outcomeOf(task, 'FAILED', new TimeoutError(timeout), runMs),
        });
      }
    }
  }

  #end(slot: ThreadSlot, reason: EndReason): void {
    if (slot.endReason) return;
    slot.endReason = reason;
    void slot.worker.terminate();
  }

  #onExit(slot: ThreadSlot, code: number): void {
    if (this.#closed) return;
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    const runningSeq = slot.endReason?.seq ?? slot.runningSeq();
    const runMs = Math.max(0, Date.now() - (slot.startedView[0] ?? Date.now()));
    const failed: TaskOutcome[] = [];
    const retry: TaskAssignment[] = [];
    for (const held of slot.held) {
      if (held.seq !== runningSeq) {
        retry.push(held.task);
      } else if (slot.endReason) {
        failed.push(slot.endReason.outcome(held.task, runMs));
      } else {
        const cause = slot.lastError ? toErrorData(slot.lastError) : undefined;
        const error = new ThreadExitError(
          cause
            ? `The task's thread died: ${cause.name}: ${cause.message}`
            : `The task ended its thread (exit code ${code})`,
        );
        failed.push(outcomeOf(held.task, 'FAILED', error, runMs));
      }
    }
    this.#slots[index] = this.#spawn();
    // Tasks the dead thread held but had not finished run again, first in line.
    this.#pending = [...retry, ...this.#pending.slice(this.#pendingHead)];
    this.#pendingHead = 0;
    if (failed.length > 0) this.#finish(failed);
    this.#pump();
  }
}
