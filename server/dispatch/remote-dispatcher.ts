/**
 * What push and pull share: connected worker sessions, sending tasks with
 * each function's source once per worker, taking result batches (only for
 * tasks this worker holds), and handing a lost worker's tasks back to the
 * queue. The two modes differ only in who decides how much a worker gets:
 * the server (push, credits) or the worker (pull, requests).
 */

import { ResultTooLargeError } from '../../shared/errors.js';
import type { WorkerMessage } from '../../shared/protocol.js';
import type { TaskAssignment, TaskOutcome } from '../../shared/types.js';
import type { SessionHandler } from '../gateway/worker-gateway.js';
import type { WorkerSession } from '../gateway/worker-session.js';
import type { LeaseReturn } from '../store/task-store.js';
import { BaseDispatcher } from './base-dispatcher.js';
import type { WorkerInfo } from './dispatcher.js';

export abstract class RemoteDispatcher extends BaseDispatcher implements SessionHandler {
  abstract override readonly mode: 'push' | 'pull';
  protected readonly sessions = new Map<string, WorkerSession>();

  /** A pull request arrived. */
  protected abstract onPull(session: WorkerSession, max: number): void;

  get inFlight(): number {
    let n = 0;
    for (const session of this.sessions.values()) n += session.inflight.size;
    return n;
  }

  workers(): WorkerInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  attach(session: WorkerSession): void {
    const previous = this.sessions.get(session.id);
    if (previous) previous.socket.close(4409, 'replaced by a newer connection');
    this.sessions.set(session.id, session);
    this.wake();
  }

  handle(session: WorkerSession, message: WorkerMessage): void {
    switch (message.type) {
      case 'results':
        this.#onResults(session, message.results);
        return;
      case 'pull':
        this.onPull(session, message.max);
        this.wake();
        return;
      case 'draining':
        session.draining = true;
        session.requested = 0;
        return;
      case 'hello':
        return; // the gateway never passes a second hello on
      default: {
        const never: never = message;
        throw new Error(`Unhandled worker message ${JSON.stringify(never)}`);
      }
    }
  }

  detach(session: WorkerSession, reason: string): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    const lost = [...session.inflight].map(([id, attempt]) => ({ id, attempt }));
    session.inflight.clear();
    if (lost.length === 0 || this.closing) return;
    this.ctx.log.warn(
      { worker: session.id, tasks: lost.length, reason },
      'worker lost; requeueing',
    );
    this.ctx.store.requeue(lost, this.ctx.config.maxAttempts).then(
      (result) => {
        this.ctx.metrics.requeued(result);
        this.wake();
      },
      // The leases still end on their own, and the lease keeper requeues them then.
      (error: unknown) => this.ctx.log.warn({ err: error }, 'requeue after worker loss failed'),
    );
  }

  protected async stopWork(): Promise<LeaseReturn[]> {
    const unfinished: LeaseReturn[] = [];
    for (const session of this.sessions.values()) {
      for (const [id, attempt] of session.inflight) unfinished.push({ id, attempt });
      session.inflight.clear();
    }
    return unfinished;
  }

  /** Sends claimed tasks to a worker, with the sources it does not have yet. */
  protected async deliver(session: WorkerSession, tasks: TaskAssignment[]): Promise<void> {
    for (const task of tasks) session.inflight.set(task.id, task.attempt);
    const functions = await this.ctx.functions.forTasks(tasks, session.knownFunctions);
    if (session.closed) {
      // It went away while we claimed: its detach already ran, so return these here.
      const back = tasks.map((t) => ({ id: t.id, attempt: t.attempt }));
      for (const task of tasks) session.inflight.delete(task.id);
      await this.ctx.store.requeue(back, Number.MAX_SAFE_INTEGER);
      return;
    }
    for (const fn of functions) session.knownFunctions.add(fn.id);
    session.send({ type: 'tasks', functions, tasks });
  }

  #onResults(session: WorkerSession, results: TaskOutcome[]): void {
    const accepted: TaskOutcome[] = [];
    for (const outcome of results) {
      // A worker may only report tasks it holds, for the attempt it was given.
      if (session.inflight.get(outcome.id) !== outcome.attempt) continue;
      session.inflight.delete(outcome.id);
      accepted.push(this.#withinLimit(outcome));
    }
    if (accepted.length < results.length) {
      this.ctx.log.warn(
        { worker: session.id, dropped: results.length - accepted.length },
        'dropped results for tasks this worker does not hold',
      );
    }
    session.completed += accepted.length;
    session.runTime.add(accepted);
    this.ctx.outcomes.add(accepted);
    this.wake();
  }

  /** The server's result limit holds whatever limit a worker runs with. */
  #withinLimit(outcome: TaskOutcome): TaskOutcome {
    const limit = this.ctx.config.limits.resultBytes;
    if (outcome.status !== 'COMPLETED' || outcome.value.length <= limit) return outcome;
    const error = new ResultTooLargeError(outcome.value.length, limit);
    return { ...outcome, status: 'FAILED', value: JSON.stringify(error.toData()) };
  }

  protected cancelHeld(taskId: string): void {
    for (const session of this.sessions.values()) {
      if (session.inflight.has(taskId)) {
        session.send({ type: 'cancel', ids: [taskId] });
        return;
      }
    }
  }

  protected *heldIds(): Iterable<string> {
    for (const session of this.sessions.values()) yield* session.inflight.keys();
  }
}
