/** One connected worker: its socket, capacity, and the tasks it holds. */

import type { WebSocket } from 'ws';
import { creditsFor, RunTimeAverage } from '../../shared/credits.js';
import { TooLargeError, toErrorData } from '../../shared/errors.js';
import { encode, type ServerMessage } from '../../shared/protocol.js';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../../shared/types.js';
import type { WorkerInfo } from '../dispatch/dispatcher.js';
import { InFlight } from '../dispatch/in-flight.js';
import type { TaskHolder } from '../dispatch/task-holder.js';

/** Room kept in every frame for the envelope around tasks and sources. */
const FRAME_ENVELOPE = 64 * 1024;

export interface SessionOptions {
  id: string;
  address: string;
  threads: number;
  socket: WebSocket;
  /** Largest frame the worker takes (from its hello). */
  maxFrameBytes: number;
  deadlineGraceMs: number;
}

export class WorkerSession implements TaskHolder {
  readonly id: string;
  readonly address: string;
  readonly threads: number;
  readonly socket: WebSocket;
  readonly maxFrameBytes: number;
  readonly connectedAt = Date.now();
  lastHeartbeat = Date.now();
  missedHeartbeats = 0;
  /** Every task sent and not yet reported, by id and attempt. */
  readonly inflight: InFlight;
  /** Functions whose source this worker already has. */
  readonly knownFunctions = new Set<string>();
  /** Pull mode: tasks asked for and not yet sent. */
  requested = 0;
  /** Pull mode: when the oldest unanswered request came (FIFO among workers). */
  requestedSince = 0;
  completed = 0;
  readonly runTime = new RunTimeAverage();
  draining = false;
  closed = false;

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.address = options.address;
    this.threads = options.threads;
    this.socket = options.socket;
    this.maxFrameBytes = options.maxFrameBytes;
    this.inflight = new InFlight(options.threads, options.deadlineGraceMs);
  }

  /** Takes tasks: not closed, and its socket not closing (a task sent now would be lost). */
  get open(): boolean {
    return !this.closed && this.socket.readyState === this.socket.OPEN;
  }

  /** Tasks this worker may hold (see creditsFor). */
  credits(prefetch: number): number {
    return creditsFor(this.threads, prefetch, this.runTime.value);
  }

  send(message: ServerMessage): void {
    if (!this.closed) this.socket.send(encode(message));
  }

  /**
   * Sends tasks in frames the worker accepts, each with the sources it does
   * not have yet. A task that cannot fit in any frame fails on its own.
   */
  run(tasks: TaskAssignment[], functions: FunctionSource[]): TaskOutcome[] {
    const refused: TaskOutcome[] = [];
    const sources = new Map(functions.map((f) => [f.id, f]));
    // Half the budget per frame by estimate: JSON escaping may grow the text.
    const target = Math.max(1, (this.maxFrameBytes - FRAME_ENVELOPE) / 2);
    let batch: TaskAssignment[] = [];
    let bytes = 0;
    for (const task of tasks) {
      const size = task.args.length + 200 + (sources.get(task.fn)?.source.length ?? 0);
      if (batch.length > 0 && bytes + size > target) {
        this.#sendFrame(batch, sources, refused);
        batch = [];
        bytes = 0;
      }
      batch.push(task);
      bytes += size;
    }
    if (batch.length > 0) this.#sendFrame(batch, sources, refused);
    return refused;
  }

  cancel(tasks: readonly { id: string; attempt: number }[]): void {
    if (tasks.length === 0) return;
    this.send({
      type: 'cancel',
      ids: tasks.map((t) => t.id),
      attempts: tasks.map((t) => t.attempt),
    });
  }

  info(): WorkerInfo {
    return {
      id: this.id,
      address: this.address,
      threads: this.threads,
      in_flight: this.inflight.size,
      completed: this.completed,
      connected_since: new Date(this.connectedAt).toISOString(),
      last_heartbeat: new Date(this.lastHeartbeat).toISOString(),
      draining: this.draining,
    };
  }

  /** One frame, measured after encoding; split in two when it is still too large. */
  #sendFrame(
    tasks: TaskAssignment[],
    sources: ReadonlyMap<string, FunctionSource>,
    refused: TaskOutcome[],
  ): void {
    const functions: FunctionSource[] = [];
    for (const task of tasks) {
      const fn = sources.get(task.fn);
      if (fn && !this.knownFunctions.has(fn.id) && !functions.includes(fn)) functions.push(fn);
    }
    let text: string | undefined;
    try {
      text = encode({ type: 'tasks', functions, tasks });
    } catch {
      text = undefined; // longer than a string can be
    }
    const fits =
      text !== undefined &&
      (text.length * 3 <= this.maxFrameBytes || Buffer.byteLength(text) <= this.maxFrameBytes);
    if (fits && text !== undefined) {
      if (this.closed) return;
      this.socket.send(text);
      for (const fn of functions) this.knownFunctions.add(fn.id);
      return;
    }
    if (tasks.length > 1) {
      const half = Math.ceil(tasks.length / 2);
      this.#sendFrame(tasks.slice(0, half), sources, refused);
      this.#sendFrame(tasks.slice(half), sources, refused);
      return;
    }
    const [task] = tasks;
    if (!task) return;
    const error = new TooLargeError(
      `The task with its function source does not fit in one frame of at most ${this.maxFrameBytes} bytes, the limit of the worker it went to`,
    );
    refused.push({
      id: task.id,
      attempt: task.attempt,
      status: 'FAILED',
      value: JSON.stringify({ ...toErrorData(error), stack: '' }),
      run_ms: 0,
    });
  }
}
