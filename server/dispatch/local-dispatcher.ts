/** local mode: tasks run on a pool of worker_threads inside the server process. */

import { creditsFor, RunTimeAverage } from '../../shared/credits.js';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { type ThreadPool, WorkerThreadPool } from '../../threads/thread-pool.js';
import { BaseDispatcher } from './base-dispatcher.js';
import type { Demand } from './claim-loop.js';
import type { DispatchContext } from './dispatch-context.js';
import type { WorkerInfo } from './dispatcher.js';
import { InFlight } from './in-flight.js';
import type { TaskHolder } from './task-holder.js';

export class LocalDispatcher extends BaseDispatcher {
  readonly mode = 'local';
  readonly #pool: ThreadPool;
  readonly #holder: TaskHolder;
  readonly #owner: string;
  readonly #since = new Date().toISOString();
  readonly #runTime = new RunTimeAverage();
  #completed = 0;

  constructor(ctx: DispatchContext) {
    super(ctx);
    this.#owner = `${ctx.instanceId}/local`;
    const pool = new WorkerThreadPool({
      threads: ctx.config.threads,
      maxResultBytes: ctx.config.limits.resultBytes,
      resourceLimits: { maxOldGenerationSizeMb: ctx.config.threadMemoryMb },
      onOutcomes: (outcomes) => this.#onOutcomes(outcomes),
    });
    this.#pool = pool;
    this.#holder = {
      inflight: new InFlight(pool.threads, ctx.config.deadlineGraceMs),
      knownFunctions: undefined,
      open: true,
      run(tasks: TaskAssignment[], functions: FunctionSource[]): TaskOutcome[] {
        pool.addFunctions(functions);
        pool.run(tasks);
        return [];
      },
      cancel(tasks) {
        for (const task of tasks) pool.cancel(task.id, task.attempt);
      },
    };
  }

  workers(): WorkerInfo[] {
    const now = new Date().toISOString();
    return [
      {
        id: 'local',
        address: 'in-process',
        threads: this.#pool.threads,
        in_flight: this.#holder.inflight.size,
        completed: this.#completed,
        connected_since: this.#since,
        last_heartbeat: now,
        draining: this.closing,
      },
    ];
  }

  protected nextDemand(): Demand | undefined {
    const credits = creditsFor(this.#pool.threads, this.ctx.config.prefetch, this.#runTime.value);
    const room = credits - this.#holder.inflight.size;
    if (room <= 0) return undefined;
    return { max: room, owner: this.#owner, deliver: (tasks) => this.handOff(this.#holder, tasks) };
  }

  protected *holders(): Iterable<TaskHolder> {
    yield this.#holder;
  }

  protected async stopWork(): Promise<void> {
    await this.#pool.close();
  }

  #onOutcomes(outcomes: TaskOutcome[]): void {
    // Only outcomes of attempts still held count: the server may have ended one already.
    const held = outcomes.filter((o) => this.#holder.inflight.settle(o.id, o.attempt));
    this.#completed += held.length;
    this.#runTime.add(held);
    this.ctx.outcomes.add(held);
    this.wake();
  }
}
