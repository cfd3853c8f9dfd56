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

import {
  MessageChannel,
  type MessagePort,
  type ResourceLimits,
  receiveMessageOnPort,
  Worker,
} from 'node:worker_threads';
import { RunTimeAverage } from '../shared/credits.js';
import {
  CancelledError,
  DEADLINE_EXCEEDED_VALUE,
  ThreadExitError,
  TimeoutError,
  toErrorData,
} from '../shared/errors.js';
import type { ProgressUpdate } from '../shared/progress.js';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../shared/types.js';
import {
  DOORBELL_INDEX,
  type FromThread,
  READY_INDEX,
  SEQ_INDEX,
  STARTED_INDEX,
  STATE_BYTES,
  type ThreadData,
  type ToThread,
} from './thread-messages.js';
import { PendingTasks } from './thread-pending.js';

export interface ThreadPool {
  readonly threads: number;
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
  /**
   * Exact order (priorities in play): tasks go to threads in the order they
   * came, none grouped by function. A thread still holds about QUEUE_MS of
   * work behind the task it runs: what `takeBack` cannot reach.
   */
  exact: boolean;
  /** Takes back those of these tasks not yet given to a thread. */
  takeBack(ids: ReadonlySet<string>): TaskAssignment[];
  close(): Promise<void>;
}

export interface ThreadPoolOptions {
  threads: number;
  maxResultBytes: number;
  resourceLimits?: ResourceLimits;
  /** `taskgrid worker --sandbox`: threads lock process.kill, exit, new Worker… (sandbox-process.ts). */
  sandbox?: boolean;
  onOutcomes: (outcomes: TaskOutcome[]) => void;
  /** A running task called `progress(value, note?)` (already checked and throttled in its thread). */
  onProgress?: (update: ProgressUpdate) => void;
  /**
   * A thread was replaced although no task of it failed: its realm was
   * changed by task code (`retired`), or it sat on tasks without running
   * them (`stalled`). Its unstarted tasks run again on other threads.
   */
  onReplaced?: (why: 'retired' | 'stalled', detail: string) => void;
}

const RUNTIME_URL = new URL('./thread-runtime.js', import.meta.url);
const SWEEP_MS = 25;
/**
 * At most this many tasks per thread. Cheap tasks need a deep queue: the
 * runtime groups a function's queued tasks, and each switch between
 * functions costs a realm check (~0.1 ms), so a deeper queue means fewer
 * switches per task when functions interleave (measured in the branch notes).
 */
const MAX_DEPTH = 256;
/**
 * Work queued on a thread behind the task it runs (ms): the thread reports
 * when it is down to its last task and this thread sends more, which takes
 * up to about a millisecond on a busy machine. A thread of 1 ms tasks that
 * held only the one it runs idled for that long after each of them. 8
 * rather than 2: results come back held up to 15 ms (worker-client.ts), and
 * a thread must not run dry while its next tasks wait behind them.
 */
const QUEUE_MS = 8;
/**
 * Tasks this slow get no second one queued behind them: the idle round
 * trip is then small beside the task, and a task queued behind a long one
 * would wait while another thread may be free.
 */
const LONG_TASK_MS = 20;
/**
 * A ready thread that holds tasks, runs none and reports nothing for this
 * long is stuck (task code broke something the runtime relies on, or a
 * stray callback spins between tasks): it is ended and its tasks run again.
 * A running task is never "stuck": it has its own timeout.
 */
const STALL_MS = 3000;
/** The same for a thread that never became ready (its start-up hangs). */
const STARTUP_STALL_MS = 30_000;
/**
 * A thread is fed its current function's tasks first (so it seldom switches
 * functions, see thread-pending.ts) for at most this long; then it takes the
 * oldest task again, whichever function it belongs to.
 */
const STICKY_MS = 10;

interface Held {
  seq: number;
  task: TaskAssignment;
}

/** Why the pool ended a thread, so the exit handler knows what to report. */
interface EndReason {
  /** The task to fail with `outcome`; -1: fail none, every held task runs again. */
  seq: number;
  outcome: (task: TaskAssignment, runMs: number) => TaskOutcome;
}

class ThreadSlot {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly ints: Int32Array;
  readonly startedView: Float64Array;
  readonly known = new Set<string>();
  readonly spawnedAt = Date.now();
  /** Tasks sent and not yet reported, by sequence number, in the order sent. */
  held = new Map<number, Held>();
  nextSeq = 0;
  /** Last time tasks were sent or outcomes came back (stall detection). */
  progressAt = Date.now();
  /** The function this thread is fed first, and since when. */
  fn: string | undefined;
  fnSince = 0;
  endReason: EndReason | undefined;
  retired = false;
  lastError: unknown;

  constructor(data: ThreadData, port: MessagePort, limits: ResourceLimits | undefined) {
    this.port = port;
    this.ints = new Int32Array(data.state, 0, 4);
    this.startedView = new Float64Array(data.state, 8 * STARTED_INDEX, 1);
    Atomics.store(this.ints, SEQ_INDEX, -1);
    // env: {} gives the thread an empty process.env: tasks see none of our variables.
    this.worker = new Worker(RUNTIME_URL, {
      workerData: data,
      transferList: [data.port],
      env: {},
      ...(limits ? { resourceLimits: limits } : {}),
    });
  }

  runningSeq(): number {
    return Atomics.load(this.ints, SEQ_INDEX);
  }

  ready(): boolean {
    return Atomics.load(this.ints, READY_INDEX) === 1;
  }

  /** Posts a message, then rings the doorbell an idle thread sleeps on. */
  send(message: ToThread): void {
    this.port.postMessage(message);
    Atomics.add(this.ints, DOORBELL_INDEX, 1);
    Atomics.notify(this.ints, DOORBELL_INDEX);
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
  readonly #pending = new PendingTasks();
  #active = 0;
  readonly #runTime = new RunTimeAverage();
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

  addFunctions(functions: readonly FunctionSource[]): void {
    for (const fn of functions) this.#functions.set(fn.id, fn.source);
  }

  exact = false;

  takeBack(ids: ReadonlySet<string>): TaskAssignment[] {
    const out: TaskAssignment[] = [];
    for (const id of ids) {
      const task = this.#pending.remove(id);
      if (task) out.push(task);
    }
    // Given back, not finished: no outcome comes for them.
    this.#finish([], out.length);
    return out;
  }

  run(tasks: readonly TaskAssignment[]): void {
    if (this.#closed) throw new Error('The thread pool is closed');
    this.#pending.push(tasks);
    this.#active += tasks.length;
    this.#pump();
  }

  cancel(taskId: string, attempt?: number): boolean {
    const queued = this.#pending.remove(taskId, attempt);
    if (queued) {
      this.#finish([outcomeOf(queued, 'CANCELLED', new CancelledError(), 0)]);
      return true;
    }
    for (const slot of this.#slots) {
      let found: Held | undefined;
      for (const held of slot.held.values()) {
        if (held.task.id === taskId && (attempt === undefined || held.task.attempt === attempt)) {
          found = held;
          break;
        }
      }
      if (!found) continue;
      if (slot.runningSeq() === found.seq) {
        this.#end(slot, {
          seq: found.seq,
          outcome: (task, runMs) => outcomeOf(task, 'CANCELLED', new CancelledError(), runMs),
        });
      } else {
        slot.send({ type: 'skip', seq: found.seq });
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
    const channel = new MessageChannel();
    const data: ThreadData = {
      state: new SharedArrayBuffer(STATE_BYTES),
      port: channel.port2,
      maxResultBytes: this.#options.maxResultBytes,
      sandbox: this.#options.sandbox === true,
    };
    const slot = new ThreadSlot(data, channel.port1, this.#options.resourceLimits);
    slot.port.on('message', (message: FromThread) => this.#onMessage(slot, message));
    // The thread's end keeps the loop alive while it lives; this end must not.
    slot.port.unref();
    slot.worker.on('error', (error) => {
      slot.lastError = error;
    });
    slot.worker.on('exit', (code) => this.#onExit(slot, code));
    return slot;
  }

  /** Tasks a thread may hold at once: the one it runs and about QUEUE_MS of work behind it. */
  #depth(): number {
    const avg = this.#runTime.value;
    if (avg >= LONG_TASK_MS) return 1;
    return Math.min(MAX_DEPTH, 1 + Math.ceil(QUEUE_MS / Math.max(avg, QUEUE_MS / MAX_DEPTH)));
  }

  #pump(): void {
    const depth = this.#depth();
    const now = Date.now();
    while (this.#pending.size > 0) {
      let best: ThreadSlot | undefined;
      for (const slot of this.#slots) {
        if (slot.held.size < depth && (!best || slot.held.size < best.held.size)) best = slot;
      }
      if (!best) break;
      const sticky = !this.exact && best.fn !== undefined && now - best.fnSince < STICKY_MS;
      const fn = sticky ? best.fn : this.#pending.frontFn();
      const batch = this.#startable(this.#pending.take(depth - best.held.size, fn), now);
      if (batch.length === 0) continue;
      if (!sticky || batch[0]?.fn !== fn) {
        best.fn = batch[0]?.fn;
        best.fnSince = now;
      }
      this.#send(best, batch);
    }
  }

  /**
   * The tasks that may still start: one whose deadline passed while it was
   * held here never runs; it fails with DeadlineExceededError instead.
   */
  #startable(tasks: TaskAssignment[], now: number): TaskAssignment[] {
    if (!tasks.some((t) => t.deadline_at !== undefined && t.deadline_at < now)) return tasks;
    const late: TaskOutcome[] = [];
    const ok: TaskAssignment[] = [];
    for (const task of tasks) {
      if (task.deadline_at === undefined || task.deadline_at >= now) ok.push(task);
      else {
        late.push({
          id: task.id,
          attempt: task.attempt,
          status: 'FAILED',
          value: DEADLINE_EXCEEDED_VALUE,
          run_ms: 0,
        });
      }
    }
    this.#finish(late);
    return ok;
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
    for (const task of tasks) {
      const seq = slot.nextSeq++;
      slot.held.set(seq, { seq, task });
    }
    if (slot.held.size === tasks.length) slot.progressAt = Date.now();
    slot.send({ type: 'run', functions, tasks, firstSeq });
  }

  #onMessage(slot: ThreadSlot, message: FromThread): void {
    if (slot.retired || slot.endReason) return;
    switch (message.type) {
      case 'done':
        this.#onDone(slot, message.count, message.outcomes, message.seqs);
        return;
      case 'retire':
        this.#replace(slot, 'retired', message.reason);
        return;
      case 'progress':
        this.#onProgress(slot, message.seq, message.value, message.note);
        return;
      default: {
        const never: never = message;
        throw new Error(`Unknown thread message ${JSON.stringify(never)}`);
      }
    }
  }

  #onDone(
    slot: ThreadSlot,
    count: number,
    outcomes: (TaskOutcome | undefined)[],
    seqs: number[],
  ): void {
    slot.progressAt = Date.now();
    const finished: TaskOutcome[] = [];
    for (let i = 0; i < count; i++) {
      const seq = seqs[i] as number;
      const outcome = outcomes[i];
      // The thread runs only tasks it was sent, each once: anything else is ignored.
      if (!outcome || !slot.held.delete(seq)) continue;
      finished.push(outcome);
    }
    if (finished.length === 0) return;
    // Mean run time sizes the batches: many cheap tasks per message, one slow one.
    this.#runTime.add(finished);
    this.#finish(finished);
    this.#pump();
  }

  /** Only for a task the thread holds: the thread cannot speak for any other. */
  #onProgress(slot: ThreadSlot, seq: number, value: number, note: string | undefined): void {
    const held = slot.held.get(seq);
    const onProgress = this.#options.onProgress;
    if (!held || !onProgress) return;
    const { id, attempt } = held.task;
    onProgress(note === undefined ? { id, attempt, value } : { id, attempt, value, note });
  }

  /** `outcomes` ended, and `givenBack` more tasks left without one. */
  #finish(outcomes: TaskOutcome[], givenBack = 0): void {
    this.#active -= outcomes.length + givenBack;
    if (outcomes.length > 0) this.#options.onOutcomes(outcomes);
    if (this.#active === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const slot of this.#slots) {
      if (slot.endReason || slot.retired) continue;
      const seq = slot.runningSeq();
      if (seq < 0) {
        const limit = slot.ready() ? STALL_MS : STARTUP_STALL_MS;
        if (slot.held.size === 0 || now - slot.progressAt <= limit) continue;
        // If this thread (the pool's) was the one held up, the outcomes may be waiting here.
        for (
          let got = receiveMessageOnPort(slot.port);
          got;
          got = receiveMessageOnPort(slot.port)
        ) {
          this.#onMessage(slot, got.message as FromThread);
        }
        if (slot.held.size > 0 && now - slot.progressAt > limit && !slot.retired) {
          this.#replace(slot, 'stalled', `held ${slot.held.size} task(s) without running them`);
        }
        continue;
      }
      const held = slot.held.get(seq);
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
    if (slot.endReason || slot.retired) return;
    slot.endReason = reason;
    void slot.worker.terminate();
  }

  /**
   * Replaces a thread none of whose held tasks has started (it said so by
   * retiring, or it stalled): a fresh thread takes its place at once and its
   * tasks go back to the front of the line. Nothing fails, nothing counts
   * as an attempt: the tasks never ran.
   */
  #replace(slot: ThreadSlot, why: 'retired' | 'stalled', detail: string): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0 || slot.retired) return;
    slot.retired = true;
    this.#options.onReplaced?.(why, detail);
    this.#slots[index] = this.#spawn();
    const retry = [...slot.held.values()].map((held) => held.task);
    slot.held.clear();
    slot.port.close();
    void slot.worker.terminate();
    this.#pending.unshift(retry);
    this.#pump();
  }

  #onExit(slot: ThreadSlot, code: number): void {
    if (this.#closed || slot.retired) return;
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    const runningSeq = slot.endReason?.seq ?? slot.runningSeq();
    const runMs = Math.max(0, Date.now() - (slot.startedView[0] ?? Date.now()));
    const failed: TaskOutcome[] = [];
    const retry: TaskAssignment[] = [];
    for (const held of slot.held.values()) {
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
    slot.port.close();
    this.#slots[index] = this.#spawn();
    // Tasks the dead thread held but had not finished run again, first in line.
    this.#pending.unshift(retry);
    if (failed.length > 0) this.#finish(failed);
    this.#pump();
  }
}
