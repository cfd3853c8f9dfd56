/** local mode: tasks run on a pool of worker_threads inside the server process. */

import { creditsFor, RunTimeAverage } from '../../shared/credits.js';
import type { TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { type ThreadPool, WorkerThreadPool } from '../../worker/thread-pool.js';
import type { NewTask } from '../store/task-store.js';
import { ClaimLoop, type Demand } from './claim-loop.js';
import type { DispatchContext } from './dispatch-context.js';
import type { Dispatcher, WorkerInfo } from './dispatcher.js';
import { LeaseKeeper } from './lease-keeper.js';

export class LocalDispatcher implements Dispatcher {
  readonly mode = 'local';
  readonly #ctx: DispatchContext;
  readonly #pool: ThreadPool;
  readonly #loop: ClaimLoop;
  readonly #leases: LeaseKeeper;
  /** Task id → attempt, for every task handed to the pool and not yet finished. */
  readonly #inflight = new Map<string, number>();
  readonly #owner: string;
  readonly #since = new Date().toISOString();
  #completed = 0;
  readonly #runTime = new RunTimeAverage();
  #unsubscribe: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(ctx: DispatchContext) {
    this.#ctx = ctx;
    this.#owner = `${ctx.instanceId}/local`;
    this.#pool = new WorkerThreadPool({
      threads: ctx.config.threads,
      maxResultBytes: ctx.config.limits.resultBytes,
      resourceLimits: { maxOldGenerationSizeMb: ctx.config.threadMemoryMb },
      onOutcomes: (outcomes) => this.#onOutcomes(outcomes),
    });
    this.#loop = new ClaimLoop(
      ctx.store,
      ctx.config.leaseMs,
      () => this.#demand(),
      (error) => ctx.log.warn({ err: error }, 'claiming tasks failed; retrying'),
      (claim) => ctx.metrics.claimed(claim),
    );
    this.#leases = new LeaseKeeper(ctx, () => this.#inflight.keys());
  }

  get inFlight(): number {
    return this.#inflight.size;
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#ctx.store.subscribe((event) => {
      if (event.type === 'queued') this.#loop.wake();
      else if (event.type === 'cancelled' && this.#inflight.has(event.id))
        this.#pool.cancel(event.id);
    });
    this.#leases.start();
    this.#loop.wake();
  }

  submit(tasks: readonly NewTask[]): Promise<void> {
    return this.#loop.submit(tasks);
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
        draining: this.#closing !== undefined,
      },
    ];
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#loop.stop();
    this.#leases.stop();
    this.#unsubscribe?.();
    await this.#pool.close();
    // What the pool still held goes back to the head of the queue for the next server.
    const unfinished = [...this.#inflight].map(([id, attempt]) => ({ id, attempt }));
    this.#inflight.clear();
    await this.#ctx.outcomes.flush();
    if (unfinished.length > 0) {
      await this.#ctx.store
        .requeue(unfinished, Number.MAX_SAFE_INTEGER)
        .catch((error: unknown) =>
          this.#ctx.log.warn({ err: error }, 'could not requeue on close'),
        );
    }
  }

  #demand(): Demand | undefined {
    if (this.#closing) return undefined;
    const credits = creditsFor(this.#pool.threads, this.#ctx.config.prefetch, this.#runTime.value);
    const room = credits - this.#inflight.size;
    if (room <= 0) return undefined;
    return { max: room, owner: this.#owner, deliver: (tasks) => this.#deliver(tasks) };
  }

  async #deliver(tasks: TaskAssignment[]): Promise<void> {
    for (const task of tasks) this.#inflight.set(task.id, task.attempt);
    this.#pool.addFunctions(await this.#ctx.functions.forTasks(tasks));
    this.#pool.run(tasks);
  }

  #onOutcomes(outcomes: TaskOutcome[]): void {
    for (const outcome of outcomes) this.#inflight.delete(outcome.id);
    this.#completed += outcomes.length;
    this.#runTime.add(outcomes);
    this.#ctx.outcomes.add(outcomes);
    this.#loop.wake();
  }
}
