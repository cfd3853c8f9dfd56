/**
 * The in-memory TaskStore, for a machine with no Redis. Same semantics as
 * RedisStore, and the same records for the same calls (store-records.ts builds
 * what both build; the store contract suite compares them); nothing survives
 * a restart.
 */

import type { TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { DEFAULT_IDEMPOTENCY_TTL_SECONDS, DEFAULT_RESULT_TTL_SECONDS } from '../server-config.js';
import { StoreEvents } from './store-events.js';
import { functionRecord, queuedTask, workerLostResult } from './store-records.js';
import type {
  CancelResult,
  ClaimResult,
  EnqueueResult,
  FunctionRecord,
  LeaseReturn,
  NewTask,
  RequeueResult,
  StoreListener,
  TaskRecord,
  TaskStore,
} from './task-store.js';

export interface MemoryStoreOptions {
  /** Finished tasks are forgotten after this many seconds (0: kept). */
  resultTtlSeconds?: number;
  /** How long an idempotency key maps to its task. */
  idempotencyTtlSeconds?: number;
}

export class MemoryStore implements TaskStore {
  readonly kind = 'memory';
  readonly #functions = new Map<string, FunctionRecord>();
  readonly #tasks = new Map<string, TaskRecord>();
  readonly #leases = new Map<string, number>();
  readonly #events = new StoreEvents();
  readonly #ttlMs: number;
  readonly #idempotencyTtlMs: number;
  /** Idempotency key → the task stored under it, and until when. */
  readonly #idempotency = new Map<string, { id: string; until: number }>();
  #sweepAt = 1024;
  /** Task id → leases handed back without counting against it. */
  readonly #released = new Map<string, number>();
  // A queue as an array with a moving head: O(1) take, compacted now and then.
  #queue: string[] = [];
  #head = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#ttlMs = (options.resultTtlSeconds ?? DEFAULT_RESULT_TTL_SECONDS) * 1000;
    this.#idempotencyTtlMs =
      (options.idempotencyTtlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS) * 1000;
  }

  async registerFunction(fn: FunctionRecord): Promise<void> {
    this.#functions.set(fn.id, functionRecord(fn));
  }

  async getFunction(id: string): Promise<FunctionRecord | undefined> {
    const fn = this.#functions.get(id);
    // A copy, as a read from Redis is: the caller cannot change what is stored.
    return fn && functionRecord(fn);
  }

  async deleteFunction(id: string): Promise<boolean> {
    return this.#functions.delete(id);
  }

  async enqueue(tasks: readonly NewTask[]): Promise<EnqueueResult> {
    const duplicates = new Map<number, string>();
    const now = Date.now();
    this.#forgetExpiredKeys(now);
    let stored = 0;
    tasks.forEach((task, position) => {
      const key = task.idempotency_key;
      if (key !== undefined) {
        const known = this.#idempotency.get(key);
        if (known && known.until > now) {
          duplicates.set(position, known.id);
          return;
        }
        this.#idempotency.set(key, { id: task.id, until: now + this.#idempotencyTtlMs });
      }
      stored++;
      this.#tasks.set(task.id, queuedTask(task));
      this.#queue.push(task.id);
    });
    if (stored > 0) this.#events.emit({ type: 'queued' });
    return { duplicates };
  }

  async enqueueAndClaim(
    tasks: readonly NewTask[],
    max: number,
    owner: string,
    leaseMs: number,
  ): Promise<ClaimResult & EnqueueResult> {
    const { duplicates } = await this.enqueue(tasks);
    return { duplicates, ...(await this.claim(max, owner, leaseMs)) };
  }

  async claim(max: number, owner: string, leaseMs: number): Promise<ClaimResult> {
    const tasks: TaskAssignment[] = [];
    const created: number[] = [];
    const now = Date.now();
    let popped = 0;
    while (popped < max && this.#head < this.#queue.length) {
      const id = this.#queue[this.#head++];
      popped++;
      const task = id === undefined ? undefined : this.#tasks.get(id);
      if (!task || task.status !== 'QUEUED') continue;
      task.status = 'RUNNING';
      task.attempts += 1;
      task.started_at = now;
      task.owner = owner;
      this.#leases.set(task.id, now + leaseMs);
      tasks.push({
        id: task.id,
        fn: task.function_id,
        args: task.args,
        attempt: task.attempts,
        timeout_ms: task.timeout_ms,
      });
      created.push(task.created_at);
    }
    const drained = this.#head >= this.#queue.length;
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return { tasks, created, drained };
  }

  async complete(outcomes: readonly TaskOutcome[]): Promise<string[]> {
    const applied: string[] = [];
    const now = Date.now();
    const done: TaskOutcome[] = [];
    for (const outcome of outcomes) {
      const task = this.#tasks.get(outcome.id);
      if (!task || task.status !== 'RUNNING' || task.attempts !== outcome.attempt) continue;
      done.push(outcome);
      this.#finish(task, outcome.status, now);
      task.result = outcome.status === 'CANCELLED' ? undefined : outcome.value;
      task.run_ms = outcome.run_ms;
      applied.push(outcome.id);
    }
    if (applied.length > 0) this.#events.emit({ type: 'finished', ids: applied, outcomes: done });
    return applied;
  }

  requeue(tasks: readonly LeaseReturn[], maxAttempts: number): Promise<RequeueResult> {
    return this.#requeue(tasks, Math.max(1, maxAttempts));
  }

  async release(tasks: readonly LeaseReturn[]): Promise<void> {
    await this.#requeue(tasks, 0);
  }

  /** cap 0: a release, not counted against the task (see requeue.ts for the Redis twin). */
  async #requeue(tasks: readonly LeaseReturn[], cap: number): Promise<RequeueResult> {
    const requeued: string[] = [];
    const failed: string[] = [];
    const now = Date.now();
    for (const { id, attempt } of tasks) {
      const task = this.#tasks.get(id);
      if (!task || task.status !== 'RUNNING' || task.attempts !== attempt) continue;
      const released = this.#released.get(id) ?? 0;
      const lost = task.attempts - released;
      if (cap === 0) this.#released.set(id, released + 1);
      if (cap > 0 && lost >= cap) {
        this.#finish(task, 'FAILED', now);
        task.result = workerLostResult(lost);
        failed.push(id);
      } else {
        task.status = 'QUEUED';
        task.owner = undefined;
        this.#leases.delete(id);
        requeued.push(id);
      }
    }
    // Returned tasks go to the head of the queue: they have waited longest.
    if (requeued.length > 0) {
      this.#queue = [...requeued, ...this.#queue.slice(this.#head)];
      this.#head = 0;
      this.#events.emit({ type: 'queued' });
    }
    if (failed.length > 0) this.#events.emit({ type: 'finished', ids: failed });
    return { requeued, failed };
  }

  async renewLeases(tasks: readonly LeaseReturn[], leaseMs: number): Promise<string[]> {
    const until = Date.now() + leaseMs;
    const gone: string[] = [];
    for (const { id, attempt } of tasks) {
      const task = this.#tasks.get(id);
      if (task?.status === 'RUNNING' && task.attempts === attempt) this.#leases.set(id, until);
      else gone.push(id);
    }
    return gone;
  }

  async heartbeat(): Promise<void> {
    // One process, one instance: it is alive while this store exists.
  }

  async staleLeases(now: number, limit: number): Promise<LeaseReturn[]> {
    const expired: [id: string, until: number][] = [];
    for (const [id, until] of this.#leases) if (until < now) expired.push([id, until]);
    // In the order of the Redis lease set: oldest expiry first, then by id.
    expired.sort(([a, untilA], [b, untilB]) => untilA - untilB || (a < b ? -1 : a > b ? 1 : 0));
    const out: LeaseReturn[] = [];
    for (const [id] of expired) {
      if (out.length >= limit) break;
      const task = this.#tasks.get(id);
      if (task) out.push({ id, attempt: task.attempts });
    }
    return out;
  }

  async cancel(id: string): Promise<CancelResult | undefined> {
    const task = this.#tasks.get(id);
    if (!task) return undefined;
    const previous = task.status;
    const owner = task.owner;
    if (previous !== 'QUEUED' && previous !== 'RUNNING') return { previous, owner, changed: false };
    this.#finish(task, 'CANCELLED', Date.now());
    if (previous === 'QUEUED') {
      const at = this.#queue.indexOf(id, this.#head);
      if (at >= 0) this.#queue.splice(at, 1);
    }
    this.#events.emit({ type: 'cancelled', id, owner });
    this.#events.emit({ type: 'finished', ids: [id] });
    return { previous, owner, changed: true };
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const task = this.#tasks.get(id);
    return task ? { ...task } : undefined;
  }

  async getTasks(ids: readonly string[]): Promise<(TaskRecord | undefined)[]> {
    return Promise.all(ids.map((id) => this.getTask(id)));
  }

  async queueDepth(): Promise<number> {
    return this.#queue.length - this.#head;
  }

  async ping(): Promise<void> {}

  subscribe(listener: StoreListener): () => void {
    return this.#events.add(listener);
  }

  async close(): Promise<void> {
    this.#events.clear();
  }

  /** Expired idempotency keys are swept whenever the map doubled since the last sweep. */
  #forgetExpiredKeys(now: number): void {
    if (this.#idempotency.size < this.#sweepAt) return;
    for (const [key, entry] of this.#idempotency)
      if (entry.until <= now) this.#idempotency.delete(key);
    this.#sweepAt = Math.max(1024, this.#idempotency.size * 2);
  }

  #finish(task: TaskRecord, status: TaskRecord['status'], now: number): void {
    task.status = status;
    task.finished_at = now;
    task.owner = undefined;
    this.#leases.delete(task.id);
    this.#released.delete(task.id);
    if (this.#ttlMs > 0) {
      setTimeout(() => this.#tasks.delete(task.id), this.#ttlMs).unref();
    }
  }
}
