/**
 * One connected worker as dispatch sees it: the tasks it holds, the sources
 * it has, its pull requests, and tasks frames cut to the largest frame it
 * takes. Its socket is the gateway's (a WorkerLink).
 */

import { worthBinary } from '../../shared/binary-frame.js';
import { TooLargeError, toErrorData } from '../../shared/errors.js';
import { encode } from '../../shared/protocol.js';
import { encodeTasksFrame, planTasksFrame, wireTasks } from '../../shared/tasks-frame.js';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { claimFilter } from '../store/lanes.js';
import { TaskHolder } from './task-holder.js';
import type { WorkerLink } from './worker-link.js';

/** Room kept in every frame for the envelope around tasks and sources. */
const FRAME_ENVELOPE = 64 * 1024;

export class WorkerSession extends TaskHolder {
  readonly link: WorkerLink;
  /** Functions whose source this worker already has. */
  readonly knownFunctions = new Set<string>();
  /** Pull mode: tasks asked for and not yet sent. */
  requested = 0;
  /** Pull mode: when the oldest unanswered request came (FIFO among workers). */
  requestedSince = 0;

  constructor(link: WorkerLink, deadlineGraceMs: number) {
    super(link.threads, deadlineGraceMs, claimFilter(link.labels, link.tenant));
    this.link = link;
  }

  get id(): string {
    return this.link.id;
  }

  get address(): string {
    return this.link.address;
  }

  get lastHeartbeat(): number {
    return this.link.lastHeartbeat;
  }

  /** Takes tasks: its socket open and not closing (a task sent now would be lost). */
  get open(): boolean {
    return this.link.open;
  }

  /**
   * Sends tasks in frames the worker accepts, each with the sources it does
   * not have yet. A task that cannot fit in any frame fails on its own.
   */
  run(tasks: TaskAssignment[], functions: FunctionSource[]): TaskOutcome[] {
    const refused: TaskOutcome[] = [];
    const sources = new Map(functions.map((f) => [f.id, f]));
    // Half the budget per frame by estimate: JSON escaping may grow the text
    // (binary frames: multi-byte characters).
    const target = Math.max(1, (this.link.maxFrameBytes - FRAME_ENVELOPE) / 2);
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
    this.link.send(
      encode({
        type: 'cancel',
        ids: tasks.map((t) => t.id),
        attempts: tasks.map((t) => t.attempt),
      }),
    );
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
    const frame = this.#encode(tasks, functions);
    if (frame !== undefined) {
      if (!this.open) return;
      this.link.send(frame);
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
      `The task with its function source does not fit in one frame of at most ${this.link.maxFrameBytes} bytes, the limit of the worker it went to`,
    );
    refused.push({
      id: task.id,
      attempt: task.attempt,
      status: 'FAILED',
      value: JSON.stringify({ ...toErrorData(error), stack: '' }),
      run_ms: 0,
    });
  }

  /** The frame for these tasks, binary when the worker reads it and it pays; undefined when it does not fit. */
  #encode(tasks: TaskAssignment[], functions: FunctionSource[]): string | Buffer | undefined {
    const max = this.link.maxFrameBytes;
    try {
      if (this.link.binaryTasks && worthBinary(tasks, (t) => t.args)) {
        const plan = planTasksFrame(tasks, functions);
        return plan.bytes <= max ? encodeTasksFrame(plan) : undefined;
      }
      const text = encode({ type: 'tasks', functions, tasks: wireTasks(tasks) });
      return text.length * 3 <= max || Buffer.byteLength(text) <= max ? text : undefined;
    } catch {
      return undefined; // longer than a string can be
    }
  }
}
