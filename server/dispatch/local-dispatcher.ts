/** local mode: tasks run on a pool of worker_threads inside the server process. */

import { creditsFor, RunTimeAverage } from '../../shared/credits.js';
import type { TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { type ThreadPool, WorkerThreadPool } from '../../worker/thread-pool.js';
import type { LeaseReturn } from '../store/task-store.js';
import { BaseDispatcher } from './base-dispatcher.js';
import type { Demand } from './claim-loop.js';
import type { DispatchContext } from './dispatch-context.js';
import type { WorkerInfo } from './dispatcher.js';

export class LocalDispatcher extends BaseDispatcher {
  readonly mode = 'local';
  readonly #pool: ThreadPool;
  /** Task id → attempt, for every task handed to the pool and not yet finished. */
  readonly #inflight = new Map<string, number>();
  readonly #owner: string;
  readonly #since = new Date().toISOString();
  readonly #runTime = new RunTimeAverage();
  #completed = 0;

  constructor(ctx: DispatchContext) {
    super(ctx);
    this.#owner = `${ctx.instanceId}/local`;
    this.#pool = new WorkerThreadPool({
      threads: ctx.config.threads,
      maxResultBytes: ctx.config.limits.resultBytes,
      resourceLimits: { maxOldGenerationSizeMb: ctx.config.threadMemoryMb },
      onOutcomes: (outcomes) => this.#onOutcomes(outcomes),
    });
  }

  get inFlight(): number {
    return this.#inflight.size;
  }

  workers(): WorkerInfo[] {
    const now = new Date().toISOString();
    return [
      {
        id: 'local',
        address: 'in-process',
        threads: this.#pool.threads,
        in_flight: this.#inflight.size,
        completed: this.#completed,
        connected_since: this.#since,
        last_heartbeat: now,
        draining: this.closing,
      },
    ];
  }

  protected nextDemand(): Demand | undefined {
    const credits = creditsFor(this.#pool.threads, this.ctx.config.prefetch, this.#runTime.value);
    const room = credits - this.#inflight.size;
    if (room <= 0) return undefined;
    return { max: room, owner: this.#owner, deliver: (tasks) => this.#deliver(tasks) };
  }

  protected heldIds(): Iterable<string> {
    return this.#inflight.keys();
  }

  protected cancelHeld(taskId: string): void {
    if (this.#inflight.has(taskId)) this.#pool.cancel(taskId);
  }

  protected async stopWork(): Promise<LeaseReturn[]> {
    await this.#pool.close();
    const unfinished = [...this.#inflight].map(([id, attempt]) => ({ id, attempt }));
    this.#inflight.clear();
    return unfinished;
  }

  async #deliver(tasks: TaskAssignment[]): Promise<void> {
    for (const task of tasks) this.#inflight.set(task.id, task.attempt);
    this.#pool.addFunctions(await this.ctx.functions.forTasks(tasks));
    this.#pool.run(tasks);
  }

  #onOutcomes(outcomes: TaskOutcome[]): void {
    for (const outcome of outcomes) this.#inflight.delete(outcome.id);
    this.#completed += outcomes.length;
    this.#runTime.add(outcomes);
    this.ctx.outcomes.add(outcomes);
    this.wake();
  }
}
