/**
 * The lifecycle every mode shares: a claim loop woken by queue events, lease
 * upkeep for the tasks held, and a close that stops claiming and hands what
 * is still held back to the queue (not counted as an attempt: a shutdown is
 * not the task's fault). A mode supplies who has room (`nextDemand`), which
 * tasks it holds, how to end a cancelled one, and how to stop its workers.
 */

import type { Mode } from '../../shared/types.js';
import type { LeaseReturn, NewTask } from '../store/task-store.js';
import { ClaimLoop, type Demand } from './claim-loop.js';
import type { DispatchContext } from './dispatch-context.js';
import type { Dispatcher, WorkerInfo } from './dispatcher.js';
import { LeaseKeeper } from './lease-keeper.js';

export abstract class BaseDispatcher implements Dispatcher {
  abstract readonly mode: Mode;
  protected readonly ctx: DispatchContext;
  readonly #loop: ClaimLoop;
  readonly #leases: LeaseKeeper;
  #unsubscribe: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(ctx: DispatchContext) {
    this.ctx = ctx;
    this.#loop = new ClaimLoop(
      ctx.store,
      ctx.config.leaseMs,
      () => (this.#closing ? undefined : this.nextDemand()),
      (error) => ctx.log.warn({ err: error }, 'claiming tasks failed; retrying'),
      (claim) => ctx.metrics.claimed(claim),
    );
    this.#leases = new LeaseKeeper(ctx, () => this.heldIds());
  }

  /** Who to claim tasks for next, and how many; undefined when nobody has room. */
  protected abstract nextDemand(): Demand | undefined;
  /** Ids of the tasks this dispatcher holds (for lease renewal). */
  protected abstract heldIds(): Iterable<string>;
  /** Ends a task this dispatcher holds, if it does. */
  protected abstract cancelHeld(taskId: string): void;
  /** Stops running tasks; returns those still held. */
  protected abstract stopWork(): Promise<LeaseReturn[]>;
  abstract readonly inFlight: number;
  abstract workers(): WorkerInfo[];

  protected get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Someone may have room: look at the queue again. */
  protected wake(): void {
    this.#loop.wake();
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.ctx.store.subscribe((event) => {
      if (event.type === 'queued') this.#loop.wake();
      else if (event.type === 'cancelled') this.cancelHeld(event.id);
    });
    this.#leases.start();
    this.#loop.wake();
  }

  submit(tasks: readonly NewTask[]): Promise<void> {
    return this.#loop.submit(tasks);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#loop.stop();
    this.#leases.stop();
    this.#unsubscribe?.();
    const unfinished = await this.stopWork();
    await this.ctx.outcomes.flush();
    if (unfinished.length === 0) return;
    await this.ctx.store
      .requeue(unfinished, Number.MAX_SAFE_INTEGER)
      .catch((error: unknown) => this.ctx.log.warn({ err: error }, 'could not requeue on close'));
  }
}
