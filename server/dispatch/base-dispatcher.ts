/**
 * The lifecycle every mode shares: a claim loop woken by queue events, lease
 * upkeep and the server's own deadlines for the tasks held, and a close that
 * stops claiming and hands what is still held back to the queue. Handing a
 * task back because of us (a shutdown, a claim that could not be handed on)
 * is a release, never counted against the task. A mode supplies who has room
 * (`nextDemand`), its task holders, and how to stop its workers.
 */

import { TimeoutError } from '../../shared/errors.js';
import type { ProgressUpdate } from '../../shared/progress.js';
import type { Mode, TaskAssignment, TaskOutcome } from '../../shared/types.js';
import type { EnqueueResult, LeaseReturn, NewTask } from '../store/task-store.js';
import { ClaimLoop, type Demand, type KnownEmpty } from './claim-loop.js';
import type { DispatchContext } from './dispatch-context.js';
import type { Dispatcher, WorkerInfo, WorkersSlice } from './dispatcher.js';
import type { HeldTask } from './in-flight.js';
import { LeaseKeeper } from './lease-keeper.js';
import { ProgressWriter } from './progress-writer.js';
import type { TaskHolder } from './task-holder.js';

export abstract class BaseDispatcher implements Dispatcher {
  abstract readonly mode: Mode;
  protected readonly ctx: DispatchContext;
  readonly #loop: ClaimLoop;
  readonly #leases: LeaseKeeper;
  readonly #progress: ProgressWriter;
  /** Leases to hand back that the store did not take yet (it was unreachable). */
  #toRelease: LeaseReturn[] = [];
  #unsubscribe: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(ctx: DispatchContext) {
    this.ctx = ctx;
    this.#loop = new ClaimLoop(
      ctx.store,
      ctx.config.leaseMs,
      (known) => (this.#closing ? undefined : this.nextDemand(known)),
      (error) => ctx.log.warn({ err: error }, 'claiming tasks failed; retrying'),
      (claim) => ctx.metrics.claimed(claim),
    );
    this.#leases = new LeaseKeeper(ctx, this);
    this.#progress = new ProgressWriter(ctx.store, ctx.log);
  }

  /**
   * Who to claim tasks for next, and how many; undefined when nobody has
   * room. Holders whose filter is `known` to have nothing are passed over.
   */
  protected abstract nextDemand(known: KnownEmpty): Demand | undefined;
  /** Everyone this dispatcher hands tasks to. */
  protected abstract holders(): Iterable<TaskHolder>;
  /** Stops running tasks (what is still held is then handed back). */
  protected abstract stopWork(): Promise<void>;
  abstract workers(): WorkerInfo[];

  /**
   * Keyset paging by id, so a page walk needs no state here. One pass keeps
   * the `limit` smallest ids after `after` (sorted, by binary insertion), and
   * only those are described: a poll of `?limit=1` with 15,000 workers costs
   * a count, not a sort or a list.
   */
  workersAfter(after: string | undefined, limit: number): WorkersSlice {
    const page: TaskHolder[] = [];
    let total = 0;
    let candidates = 0;
    for (const holder of this.holders()) {
      total++;
      const id = holder.id;
      if (after !== undefined && id <= after) continue;
      candidates++;
      const last = page.at(-1);
      if (page.length === limit && last && id >= last.id) continue;
      let lo = 0;
      let hi = page.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((page[mid]?.id ?? '') < id) lo = mid + 1;
        else hi = mid;
      }
      page.splice(lo, 0, holder);
      if (page.length > limit) page.pop();
    }
    return { workers: page.map((h) => h.info()), total, more: candidates > limit };
  }

  get inFlight(): number {
    let n = 0;
    for (const holder of this.holders()) n += holder.inflight.size;
    return n;
  }

  protected get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Someone may have room: look at the queue again. */
  protected wake(): void {
    this.#loop.wake();
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.ctx.store.subscribe((event) => {
      // A resync means queue events may have been missed: look at the queue.
      if (event.type === 'queued' && event.priority !== undefined)
        this.#prioritized(event.priority);
      if (event.type === 'queued' || event.type === 'resync') this.#loop.queued();
      else if (event.type === 'cancelled') this.#cancelHeld(event.id);
    });
    this.#leases.start();
    this.#loop.queued();
  }

  submit(tasks: readonly NewTask[]): Promise<EnqueueResult> {
    return this.#loop.submit(tasks);
  }

  /**
   * Tasks of `priority` became QUEUED: what holders hold ahead of time at a
   * lower priority and have not started goes back to the queue (not counted
   * against the tasks), so none starts before a higher-priority task queued
   * before it starts. Holders keep prefetching; only this changes.
   */
  #prioritized(priority: number): void {
    for (const holder of this.holders()) {
      const lower = holder.inflight.below(priority);
      if (lower.length > 0) this.handBack(holder, lower);
    }
  }

  /** Asks a holder for these tasks back if it has not started them; each mode passes what comes back to `takeBack`. */
  protected abstract handBack(holder: TaskHolder, tasks: readonly HeldTask[]): void;

  /** Tasks a holder gave back unstarted: off its ledger (that attempt only), back to the queue. */
  protected takeBack(holder: TaskHolder, tasks: readonly LeaseReturn[]): void {
    const back: LeaseReturn[] = [];
    for (const task of tasks) {
      if (holder.inflight.get(task.id)?.attempt !== task.attempt) continue;
      holder.inflight.remove([task.id]);
      back.push(task);
    }
    if (back.length === 0) return;
    this.#release(back).catch(() => {
      // Kept in #toRelease and retried by the lease keeper.
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Leases of every task held, for renewal. */
  heldLeases(): LeaseReturn[] {
    const out: LeaseReturn[] = [];
    for (const holder of this.holders()) out.push(...holder.inflight.leases());
    return out;
  }

  /**
   * These tasks are no longer ours (a peer requeued them while this server
   * was frozen or cut off): forget them and stop them where they run.
   */
  letGo(ids: readonly string[]): void {
    if (ids.length === 0) return;
    let dropped = 0;
    for (const holder of this.holders()) {
      const gone = holder.inflight.remove(ids);
      if (gone.length > 0) holder.cancel(gone);
      dropped += gone.length;
    }
    // Most ids here simply finished while the renewal was under way.
    if (dropped === 0) return;
    this.ctx.log.warn({ tasks: dropped }, 'tasks were taken over elsewhere or ended; let go');
    this.wake();
  }

  /**
   * The server owns every deadline: a task held past it fails with a
   * TimeoutError here, whatever its worker does or says.
   */
  expireOverdue(now: number): void {
    const outcomes: TaskOutcome[] = [];
    for (const holder of this.holders()) {
      const overdue = holder.inflight.takeOverdue(now);
      if (overdue.length === 0) continue;
      holder.cancel(overdue);
      for (const held of overdue) outcomes.push(overdueOutcome(held));
    }
    if (outcomes.length === 0) return;
    this.ctx.log.warn({ tasks: outcomes.length }, 'tasks passed their deadline; failing them');
    this.ctx.outcomes.add(outcomes);
    this.wake();
  }

  /**
   * A task reported progress through its holder: taken only for an attempt
   * the holder holds (a worker cannot speak for tasks it was not given), then
   * throttled per task on its way to the store. False when refused.
   */
  protected progressFrom(holder: TaskHolder, update: ProgressUpdate): boolean {
    const held = holder.inflight.get(update.id);
    if (!held || held.attempt !== update.attempt || this.closing) return false;
    this.#progress.offer(update);
    return true;
  }

  /** Hands back leases that could not be handed back earlier. */
  async retryReleases(): Promise<void> {
    if (this.#toRelease.length === 0) return;
    const leases = this.#toRelease;
    this.#toRelease = [];
    await this.#release(leases);
  }

  /**
   * Gives claimed tasks to a holder: their function sources first (a failed
   * read releases the claim at once, not counted), then the ledger, then the
   * holder. A holder that went away meanwhile gets nothing.
   */
  protected async handOff(holder: TaskHolder, tasks: TaskAssignment[]): Promise<void> {
    let functions: Awaited<ReturnType<DispatchContext['functions']['forTasks']>>;
    try {
      functions = await this.ctx.functions.forTasks(tasks, holder.knownFunctions);
    } catch (error) {
      await this.#release(leasesOf(tasks));
      throw error;
    }
    if (!holder.open || this.closing) {
      await this.#release(leasesOf(tasks));
      return;
    }
    const replaced = holder.inflight.add(tasks);
    if (replaced.length > 0) holder.cancel(replaced);
    let refused: TaskOutcome[];
    try {
      refused = holder.run(tasks, functions);
    } catch (error) {
      holder.inflight.remove(tasks.map((t) => t.id));
      await this.#release(leasesOf(tasks));
      throw error;
    }
    if (refused.length === 0) return;
    for (const outcome of refused) holder.inflight.settle(outcome.id, outcome.attempt);
    this.ctx.outcomes.add(refused);
  }

  async #close(): Promise<void> {
    this.#loop.stop();
    this.#leases.stop();
    this.#progress.close();
    this.#unsubscribe?.();
    await this.stopWork();
    const unfinished: LeaseReturn[] = [...this.#toRelease];
    for (const holder of this.holders()) unfinished.push(...holder.inflight.takeAll());
    await this.ctx.outcomes.flush();
    if (unfinished.length === 0) return;
    await this.ctx.store
      .release(unfinished)
      .catch((error: unknown) =>
        this.ctx.log.warn({ err: error }, 'could not hand tasks back on close'),
      );
  }

  #cancelHeld(taskId: string): void {
    for (const holder of this.holders()) {
      const held = holder.inflight.get(taskId);
      if (held) holder.cancel([held]);
    }
  }

  async #release(leases: LeaseReturn[]): Promise<void> {
    if (leases.length === 0) return;
    try {
      await this.ctx.store.release(leases);
      this.wake();
    } catch (error) {
      // Tried again on every lease upkeep tick, well before the leases end.
      this.#toRelease.push(...leases);
      this.ctx.log.warn({ err: error, tasks: leases.length }, 'could not hand tasks back yet');
    }
  }
}

function leasesOf(tasks: readonly TaskAssignment[]): LeaseReturn[] {
  return tasks.map((t) => ({ id: t.id, attempt: t.attempt }));
}

function overdueOutcome(held: HeldTask): TaskOutcome {
  const error = new TimeoutError(held.timeout_ms);
  const data = {
    ...error.toData(),
    message: `Task got no result within its timeout of ${held.timeout_ms} ms and the grace after it; the server ended it`,
    stack: '',
  };
  return {
    id: held.id,
    attempt: held.attempt,
    status: 'FAILED',
    value: JSON.stringify(data),
    run_ms: 0,
  };
}
