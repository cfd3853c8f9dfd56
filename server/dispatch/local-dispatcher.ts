/** local mode: tasks run on a pool of worker_threads inside the server process. */

import type { TaskOutcome } from '../../shared/types.js';
import { type ThreadPool, WorkerThreadPool } from '../../threads/thread-pool.js';
import { claimFilter } from '../store/lanes.js';
import { BaseDispatcher } from './base-dispatcher.js';
import type { Demand, KnownEmpty } from './claim-loop.js';
import type { DispatchContext } from './dispatch-context.js';
import type { WorkerInfo } from './dispatcher.js';
import type { HeldTask } from './in-flight.js';
import { PoolHolder } from './pool-holder.js';
import type { TaskHolder } from './task-holder.js';

export class LocalDispatcher extends BaseDispatcher {
  readonly mode = 'local';
  readonly #pool: ThreadPool;
  readonly #holder: PoolHolder;
  readonly #owner: string;

  constructor(ctx: DispatchContext) {
    super(ctx);
    this.#owner = `${ctx.instanceId}/local`;
    this.#pool = new WorkerThreadPool({
      threads: ctx.config.threads,
      maxResultBytes: ctx.config.limits.resultBytes,
      resourceLimits: { maxOldGenerationSizeMb: ctx.config.threadMemoryMb },
      onOutcomes: (outcomes) => this.#onOutcomes(outcomes),
      onProgress: (update) => this.progressFrom(this.#holder, update),
    });
    this.#holder = new PoolHolder(
      this.#pool,
      ctx.config.deadlineGraceMs,
      claimFilter(ctx.config.labels, undefined),
    );
  }

  workers(): WorkerInfo[] {
    return [this.#holder.info()];
  }

  override close(): Promise<void> {
    this.#holder.draining = true;
    return super.close();
  }

  protected nextDemand(known: KnownEmpty): Demand | undefined {
    if (known(this.#holder.filter.key)) return undefined;
    // Priorities in play: threads take tasks in the order given, none grouped by function.
    this.#pool.exact = this.#holder.inflight.prioritized;
    const room = this.#holder.credits(this.ctx.config.prefetch) - this.#holder.inflight.size;
    if (room <= 0) return undefined;
    return {
      max: room,
      owner: this.#owner,
      filter: this.#holder.filter,
      deliver: (tasks) => this.handOff(this.#holder, tasks),
    };
  }

  protected handBack(holder: TaskHolder, tasks: readonly HeldTask[]): void {
    this.#pool.exact = true;
    this.takeBack(holder, this.#pool.takeBack(new Set(tasks.map((t) => t.id))));
  }

  protected *holders(): Iterable<TaskHolder> {
    yield this.#holder;
  }

  protected async stopWork(): Promise<void> {
    await this.#pool.close();
  }

  #onOutcomes(outcomes: TaskOutcome[]): void {
    // Only outcomes of attempts still held count: the server may have ended one already.
    this.ctx.outcomes.add(this.#holder.settle(outcomes));
    this.wake();
  }
}
