/**
 * What push and pull share: connected worker sessions, sending tasks with
 * each function's source once per worker, taking result batches (only for
 * the attempts a worker holds, each value checked), and handing a lost
 * worker's tasks back to the queue. The two modes differ only in who
 * decides how much a worker gets: the server (push, credits) or the worker
 * (pull, requests).
 */

import { CloseCode } from '../../shared/close-codes.js';
import { BadResultError, ResultTooLargeError, type TaskgridError } from '../../shared/errors.js';
import { encode, type WorkerMessage } from '../../shared/protocol.js';
import { isWellFormed } from '../../shared/serialize.js';
import type { TaskOutcome } from '../../shared/types.js';
import { BaseDispatcher } from './base-dispatcher.js';
import type { WorkerInfo } from './dispatcher.js';
import type { HeldTask } from './in-flight.js';
import type { TaskHolder } from './task-holder.js';
import type { WorkerLink, WorkerLinkHandler } from './worker-link.js';
import { WorkerSession } from './worker-session.js';

export abstract class RemoteDispatcher extends BaseDispatcher implements WorkerLinkHandler {
  abstract override readonly mode: 'push' | 'pull';
  /** The current session of each worker id. */
  protected readonly sessions = new Map<string, WorkerSession>();
  /** Every attached link's session, a replaced one too until its socket closes. */
  readonly #byLink = new Map<WorkerLink, WorkerSession>();

  /** A pull request arrived. */
  protected abstract onPull(session: WorkerSession, max: number): void;

  workers(): WorkerInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  attach(link: WorkerLink): void {
    const session = new WorkerSession(link, this.ctx.config.deadlineGraceMs);
    this.#byLink.set(link, session);
    const previous = this.sessions.get(session.id);
    if (previous) previous.link.close(CloseCode.Replaced, 'replaced by a newer connection');
    this.sessions.set(session.id, session);
    this.wake();
  }

  handle(link: WorkerLink, message: WorkerMessage): void {
    const session = this.#byLink.get(link);
    if (!session) return; // the gateway passes messages of attached links only
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
      case 'handed_back':
        this.takeBack(session, message.tasks);
        return;
      case 'progress': {
        const { id, attempt, value, note } = message;
        // A progress for a task this worker does not hold is dropped, quietly: it may
        // simply have crossed a cancel or a requeue on the wire.
        this.progressFrom(session, { id, attempt, value, note });
        return;
      }
      case 'hello':
        return; // the gateway never passes a second hello on
      default: {
        const never: never = message;
        throw new Error(`Unhandled worker message ${JSON.stringify(never)}`);
      }
    }
  }

  detach(link: WorkerLink, reason: string): void {
    const session = this.#byLink.get(link);
    if (!session) return;
    this.#byLink.delete(link);
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    const lost = session.inflight.takeAll();
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

  protected handBack(holder: TaskHolder, tasks: readonly HeldTask[]): void {
    const session = this.sessions.get(holder.id);
    if (session !== holder || !session.open) return;
    session.link.send(encode({ type: 'hand_back', ids: tasks.map((t) => t.id) }));
  }

  protected async stopWork(): Promise<void> {
    // Remote workers stop on their own when the gateway closes their sockets.
  }

  protected *holders(): Iterable<TaskHolder> {
    yield* this.sessions.values();
  }

  #onResults(session: WorkerSession, results: TaskOutcome[]): void {
    // A worker may only report tasks it holds, for the attempt it was given.
    const accepted = session.settle(results).map((outcome) => this.#checked(outcome));
    if (accepted.length < results.length) {
      this.ctx.log.warn(
        { worker: session.id, dropped: results.length - accepted.length },
        'dropped results for tasks this worker does not hold',
      );
    }
    this.ctx.outcomes.add(accepted);
    this.wake();
  }

  /**
   * A value from a worker is checked before it goes near the store: within
   * the server's result limit, whatever limit the worker runs with, and
   * well-formed text (a lone surrogate would make every later write fail).
   * A bad value fails its own task only.
   */
  #checked(outcome: TaskOutcome): TaskOutcome {
    const limit = this.ctx.config.limits.resultBytes;
    let error: TaskgridError | undefined;
    if (outcome.value.length > limit) error = new ResultTooLargeError(outcome.value.length, limit);
    else if (!isWellFormed(outcome.value)) {
      error = new BadResultError('The worker sent a result that is not well-formed Unicode text');
    }
    if (!error) return outcome;
    return {
      ...outcome,
      status: 'FAILED',
      value: JSON.stringify({ ...error.toData(), stack: '' }),
    };
  }
}
