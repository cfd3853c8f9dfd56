/**
 * The in-memory TaskStore, for a machine with no Redis. Same semantics as
 * RedisStore, and the same records for the same calls (store-records.ts builds
 * what both build; the store contract suite compares them); nothing survives
 * a restart.
 */

import { v4 as uuidv4 } from 'uuid';
import type { TaskAssignment, TaskOutcome, TaskStatus } from '../../shared/types.js';
import { DEFAULT_IDEMPOTENCY_TTL_SECONDS, DEFAULT_RESULT_TTL_SECONDS } from '../server-config.js';
import {
  ANY_HOLDER,
  type ClaimFilter,
  DEFAULT_LANE,
  type LaneInfo,
  laneServes,
  parseLaneId,
} from './lanes.js';
import { seqCursor } from './list-cursor.js';
import { MemoryDependencies } from './memory-dependencies.js';
import { backoffWait, insertSorted, type Queued, SeqQueues } from './memory-queues.js';
import { MemoryScheduleStore } from './memory-schedule-store.js';
import { StoreEvents } from './store-events.js';
import { DEADLINE_RESULT, functionRecord, queuedTask, workerLostResult } from './store-records.js';
import { errorSummary } from './task-hash.js';
import type {
  CancelResult,
  ClaimResult,
  EnqueueResult,
  FunctionRecord,
  LeaseReturn,
  NewTask,
  PriorityCount,
  Progress,
  PromoteResult,
  RequeueResult,
  RetryResult,
  StoreListener,
  TaskError,
  TaskOwner,
  TaskPage,
  TaskPlacement,
  TaskQuery,
  TaskRecord,
  TaskStore,
} from './task-store.js';

/** A lane a claim may take from, with what the claim needs of it. */
interface EligibleLane {
  id: string;
  weight: number;
  /** The function whose concurrency it limits, or ''. */
  fn: string;
  /** 0: no limit. */
  limit: number;
  queues: SeqQueues;
}

/** As the Redis store's PROMOTE_LIMIT, LIST_SCAN_CAP and lua/claim.ts LANE_CHUNK, so both answer the same. */
const LANE_CHUNK = 32;
const PROMOTE_LIMIT = 1000;
const LIST_SCAN_CAP = 5000;

export interface MemoryStoreOptions {
  /** A tenant's weight in fair dispatch across lanes (1 when not given). */
  weightOf?: (tenant: string | undefined) => number;
  /** Finished tasks are forgotten after this many seconds (0: kept). */
  resultTtlSeconds?: number;
  /** How long an idempotency key maps to its task. */
  idempotencyTtlSeconds?: number;
}

/** The `{attempt, name, message}` of a failed run's error text. */
function errorOf(run: { attempt: number; value: string }): TaskError {
  return { attempt: run.attempt, ...errorSummary(run.value) };
}

function removeId(list: Queued[], id: string): void {
  const at = list.findIndex((q) => q.id === id);
  if (at >= 0) list.splice(at, 1);
}

/** Removes and returns the entries due by `now` (inclusive or not), at most `limit`, soonest first. */
function takeDue(list: Queued[], now: number, limit: number, inclusive: boolean): Queued[] {
  let n = 0;
  while (n < list.length && n < limit) {
    const at = (list[n] as Queued).at;
    if (inclusive ? at > now : at >= now) break;
    n++;
  }
  return list.splice(0, n);
}

export class MemoryStore implements TaskStore {
  readonly kind = 'memory';
  readonly schedules = new MemoryScheduleStore();
  readonly #functions = new Map<string, FunctionRecord>();
  readonly #tasks = new Map<string, TaskRecord>();
  readonly #leases = new Map<string, number>();
  readonly #events = new StoreEvents();
  readonly #ttlMs: number;
  readonly #idempotencyTtlMs: number;
  /** Idempotency key → the task stored under it, and until when. */
  readonly #idempotency = new Map<string, { id: string; until: number }>();
  #sweepAt = 1024;
  /** Finished tasks' pending expiry timers, so a retry can keep the task. */
  readonly #expiries = new Map<string, { close(): void }>();
  /** Task id → leases handed back without counting against it. */
  readonly #released = new Map<string, number>();
  /** Task id → its place in FIFO order (as Redis's `seq`). */
  readonly #seqs = new Map<string, number>();
  #seq = 0;
  /** The default lane's queue; other lanes' are in #lanes. */
  readonly #queues = new SeqQueues();
  readonly #lanes = new Map<string, { info: LaneInfo; queues: SeqQueues }>();
  /** Lane → virtual time (tasks taken ÷ weight), and the one served last. */
  readonly #vt = new Map<string, number>();
  #vtNow = 0;
  /** Function with a concurrency limit → tasks of it RUNNING. */
  readonly #running = new Map<string, number>();
  readonly #weightOf: (tenant: string | undefined) => number;
  /** WAITING ids by when they become QUEUED, and not yet started ids by deadline: sorted. */
  readonly #delayed: Queued[] = [];
  readonly #deadlines: Queued[] = [];
  /** Every task ever stored and the FAILED ones, in seq order (expired ones skipped on reads). */
  readonly #index: Queued[] = [];
  readonly #failed: Queued[] = [];
  /** Tasks that take other tasks' results as arguments (memory-dependencies.ts). */
  readonly #deps = new MemoryDependencies({
    task: (id) => this.#tasks.get(id),
    seq: (id) => this.#seqs.get(id) ?? 0,
    fail: (task, result, now) => {
      this.#unqueue(task);
      task.result = result;
      this.#finish(task, 'FAILED', now);
    },
    cancel: (task, now) => {
      this.#unqueue(task);
      this.#finish(task, 'CANCELLED', now);
    },
    functionExists: (id) => this.#functions.has(id),
    ready: (task, now) => {
      if (task.run_at !== undefined && task.run_at > now) {
        insertSorted(this.#delayed, { at: task.run_at, id: task.id });
        return false;
      }
      task.status = 'QUEUED';
      this.#laneQueues(task.lane).push(task.priority, this.#seqs.get(task.id) ?? 0, task.id);
      return true;
    },
  });

  constructor(options: MemoryStoreOptions = {}) {
    this.#ttlMs = (options.resultTtlSeconds ?? DEFAULT_RESULT_TTL_SECONDS) * 1000;
    this.#weightOf = options.weightOf ?? (() => 1);
    this.#idempotencyTtlMs =
      (options.idempotencyTtlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS) * 1000;
  }

  newTaskIds(tasks: readonly TaskPlacement[]): string[] {
    return tasks.map(() => uuidv4());
  }

  async registerFunction(fn: FunctionRecord): Promise<void> {
    this.#functions.set(fn.id, functionRecord(fn));
  }

  async getFunction(id: string): Promise<FunctionRecord | undefined> {
    const fn = this.#functions.get(id);
    // A copy, as a read from Redis is: the caller cannot change what is stored.
    return fn && functionRecord(fn);
  }

  async listFunctions(): Promise<FunctionRecord[]> {
    return [...this.#functions.values()]
      .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1))
      .map(functionRecord);
  }

  async deleteFunction(id: string): Promise<{ cancelled: string[] } | undefined> {
    if (!this.#functions.delete(id)) return undefined;
    const cancelled: string[] = [];
    const now = Date.now();
    // The Redis store's order: the list (priority 0), then `prio`, then `delayed`.
    const lanes = [...this.#lanes.keys()].sort();
    const waiting = [
      ...this.#queues.idsInScanOrder(),
      ...lanes.flatMap((lane) => this.#lanes.get(lane)?.queues.idsInScanOrder() ?? []),
      ...this.#delayed.map((q) => q.id),
    ];
    for (const taskId of waiting) {
      const task = this.#tasks.get(taskId);
      if (task?.function_id !== id) continue;
      if (task.status !== 'QUEUED' && task.status !== 'WAITING') continue;
      this.#unqueue(task);
      this.#finish(task, 'CANCELLED', now);
      cancelled.push(taskId);
    }
    if (cancelled.length > 0) this.#events.emit({ type: 'finished', ids: cancelled });
    this.#flushDeps();
    return { cancelled };
  }

  async enqueue(tasks: readonly NewTask[]): Promise<EnqueueResult> {
    const duplicates = new Map<number, string>();
    const now = Date.now();
    this.#forgetExpiredKeys(now);
    let runnable = false;
    let highest: number | undefined;
    let due: number | undefined;
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
      const record = queuedTask(task);
      const seq = ++this.#seq;
      this.#tasks.set(task.id, record);
      this.#seqs.set(task.id, seq);
      this.#index.push({ at: seq, id: task.id });
      if (task.refs !== undefined && this.#holds(task, record, now)) {
        // It waits for its dependencies, or failed at once with one.
      } else if (record.run_at !== undefined) {
        insertSorted(this.#delayed, { at: record.run_at, id: task.id });
        due = Math.min(due ?? record.run_at, record.run_at);
      } else {
        const queues = this.#laneQueues(task.lane);
        // A lane that had nothing queued starts at the virtual time served last: no credit saved up.
        if (task.lane && queues.size === 0) {
          this.#vt.set(task.lane.id, Math.max(this.#vt.get(task.lane.id) ?? 0, this.#vtNow));
        }
        queues.push(record.priority, seq, task.id);
        runnable = true;
        highest = Math.max(highest ?? -Infinity, record.priority);
      }
      if (record.deadline_at !== undefined) {
        insertSorted(this.#deadlines, { at: record.deadline_at, id: task.id });
        due = Math.min(due ?? record.deadline_at, record.deadline_at);
      }
    });
    if (runnable) this.#events.emit({ type: 'queued', priority: highest ?? 0 });
    if (due !== undefined) this.#events.emit({ type: 'due', at: due });
    this.#flushDeps();
    return { duplicates };
  }

  async enqueueAndClaim(
    tasks: readonly NewTask[],
    max: number,
    owner: string,
    leaseMs: number,
    filter?: ClaimFilter,
  ): Promise<ClaimResult & EnqueueResult> {
    const { duplicates } = await this.enqueue(tasks);
    return { duplicates, ...(await this.claim(max, owner, leaseMs, filter)) };
  }

  /** The Redis claim step's twin (lua/claim.ts): the default lane alone directly, else fairly. */
  async claim(
    max: number,
    owner: string,
    leaseMs: number,
    filter?: ClaimFilter,
  ): Promise<ClaimResult> {
    const lanes = this.#eligible(filter);
    const picked: { id: string; cfn: string }[] = [];
    const only = lanes[0];
    if (lanes.length === 1 && only?.id === DEFAULT_LANE) {
      for (const id of only.queues.take(max)) picked.push({ id, cfn: '' });
      return this.#lease(picked, owner, leaseMs, only.queues.size === 0);
    }
    // As the Redis step, a lease counts against the limit at once, within this claim too.
    const now = Date.now();
    const takenNow = new Map<string, number>();
    const leasable = (id: string) => {
      const task = this.#tasks.get(id);
      return (
        task?.status === 'QUEUED' && !(task.deadline_at !== undefined && task.deadline_at < now)
      );
    };
    // Room a lane has: what is left to take, less what its function's limit allows.
    const room = (lane: EligibleLane, left: number) => {
      if (lane.limit === 0) return left;
      const busy = (this.#running.get(lane.fn) ?? 0) + (takenNow.get(lane.fn) ?? 0);
      return Math.min(left, lane.limit - busy);
    };
    let left = max;
    for (;;) {
      let best: EligibleLane | undefined;
      let bestVt = 0;
      let bestRoom = 0;
      for (const lane of lanes) {
        if (lane.queues.size === 0) continue;
        const r = room(lane, left);
        if (r <= 0) continue;
        const vt = this.#vt.get(lane.id) ?? 0;
        if (!best || vt < bestVt) [best, bestVt, bestRoom] = [lane, vt, r];
      }
      if (!best || left <= 0) break;
      const ids = best.queues.take(Math.min(bestRoom, LANE_CHUNK));
      for (const id of ids) {
        picked.push({ id, cfn: best.fn });
        if (best.fn !== '' && leasable(id)) takenNow.set(best.fn, (takenNow.get(best.fn) ?? 0) + 1);
      }
      left -= ids.length;
      const vt = bestVt + ids.length / best.weight;
      this.#vt.set(best.id, vt);
      this.#vtNow = vt;
    }
    const drained = !lanes.some((lane) => lane.queues.size > 0 && room(lane, 1) > 0);
    return this.#lease(picked, owner, leaseMs, drained);
  }

  /** Leases the picked ids that are still QUEUED; a deadline that passed fails its task instead. */
  #lease(
    picked: readonly { id: string; cfn: string }[],
    owner: string,
    leaseMs: number,
    drained: boolean,
  ): ClaimResult {
    const tasks: TaskAssignment[] = [];
    const created: number[] = [];
    const now = Date.now();
    const expired: string[] = [];
    for (const { id, cfn } of picked) {
      const task = this.#tasks.get(id);
      if (!task || task.status !== 'QUEUED') continue;
      if (task.deadline_at !== undefined) {
        removeId(this.#deadlines, id);
        if (task.deadline_at < now) {
          this.#failUnstarted(task, now);
          expired.push(id);
          continue;
        }
      }
      task.status = 'RUNNING';
      task.attempts += 1;
      task.started_at = now;
      task.owner = owner;
      if (cfn !== '') this.#running.set(cfn, (this.#running.get(cfn) ?? 0) + 1);
      this.#leases.set(task.id, now + leaseMs);
      const assignment: TaskAssignment = {
        id: task.id,
        fn: task.function_id,
        args: task.args,
        attempt: task.attempts,
        timeout_ms: task.timeout_ms,
      };
      if (task.deadline_at !== undefined) assignment.deadline_at = task.deadline_at;
      if (task.priority !== 0) assignment.priority = task.priority;
      tasks.push(assignment);
      created.push(task.created_at);
    }
    if (expired.length > 0) this.#events.emit({ type: 'finished', ids: expired });
    this.#flushDeps();
    return { tasks, created, drained };
  }

  /** The lanes a claim for `filter` may take from (the Redis store's #eligibleLanes twin). */
  #eligible(filter: ClaimFilter | undefined): EligibleLane[] {
    const out: EligibleLane[] = [];
    if (filter === undefined || filter.tenant === undefined) {
      const weight = this.#weightOf(undefined);
      out.push({ id: DEFAULT_LANE, weight, fn: '', limit: 0, queues: this.#queues });
    }
    for (const { info, queues } of this.#lanes.values()) {
      if (!laneServes(info, filter ?? ANY_HOLDER)) continue;
      out.push({
        id: info.id,
        weight: this.#weightOf(info.tenant),
        fn: info.limited?.fn ?? '',
        limit: info.limited?.limit ?? 0,
        queues,
      });
    }
    return out;
  }

  /** The queues of a task's lane, made when first used. */
  #laneQueues(lane: { id: string; limit: number } | string | undefined): SeqQueues {
    const id = typeof lane === 'string' ? lane : lane?.id;
    if (id === undefined || id === DEFAULT_LANE) return this.#queues;
    let entry = this.#lanes.get(id);
    if (!entry) {
      const limit = typeof lane === 'object' ? lane.limit : 0;
      entry = { info: parseLaneId(id, limit || undefined), queues: new SeqQueues() };
      this.#lanes.set(id, entry);
    }
    return entry.queues;
  }

  /** A RUNNING task of a limited function ended or went back: one fewer runs. */
  #freeSlot(task: TaskRecord): boolean {
    const fn = task.lane === undefined ? undefined : parseLaneId(task.lane, 1).limited?.fn;
    if (fn === undefined) return false;
    this.#running.set(fn, Math.max(0, (this.#running.get(fn) ?? 0) - 1));
    return true;
  }

  async complete(outcomes: readonly TaskOutcome[]): Promise<string[]> {
    const applied: string[] = [];
    const now = Date.now();
    const done: TaskOutcome[] = [];
    let retried = false;
    let freed = false;
    let due: number | undefined;
    for (const outcome of outcomes) {
      const task = this.#tasks.get(outcome.id);
      if (!task || task.status !== 'RUNNING' || task.attempts !== outcome.attempt) continue;
      if (this.#freeSlot(task)) freed = true;
      const runs = task.attempts - (this.#released.get(task.id) ?? 0);
      const retry = task.retry;
      if (outcome.status === 'FAILED' && !outcome.final && retry && runs < retry.max_attempts) {
        const at = now + backoffWait(retry, runs);
        task.status = 'WAITING';
        task.owner = undefined;
        task.progress = undefined;
        task.run_ms = outcome.run_ms;
        task.run_at = at;
        task.errors = [...task.errors, errorOf(outcome)];
        this.#leases.delete(task.id);
        insertSorted(this.#delayed, { at, id: task.id });
        due = Math.min(due ?? at, at);
        retried = true;
        continue;
      }
      done.push(outcome);
      // The result first: tasks that take it as an argument are released as it finishes.
      task.result = outcome.status === 'CANCELLED' ? undefined : outcome.value;
      task.run_ms = outcome.run_ms;
      this.#finish(task, outcome.status, now, true);
      applied.push(outcome.id);
    }
    if (retried || freed) this.#events.emit({ type: 'queued' });
    if (due !== undefined) this.#events.emit({ type: 'due', at: due });
    if (applied.length > 0) this.#events.emit({ type: 'finished', ids: applied, outcomes: done });
    this.#flushDeps();
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
    let freed = false;
    for (const { id, attempt } of tasks) {
      const task = this.#tasks.get(id);
      if (!task || task.status !== 'RUNNING' || task.attempts !== attempt) continue;
      if (this.#freeSlot(task)) freed = true;
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
        task.progress = undefined;
        this.#leases.delete(id);
        requeued.push(id);
      }
    }
    // Returned tasks go to the head of their queue: they have waited longest.
    for (let i = requeued.length - 1; i >= 0; i--) {
      const id = requeued[i] as string;
      const task = this.#tasks.get(id);
      if (task) this.#laneQueues(task.lane).pushHead(task.priority, this.#seqs.get(id) ?? 0, id);
    }
    if (requeued.length > 0 || freed) this.#events.emit({ type: 'queued' });
    if (failed.length > 0) this.#events.emit({ type: 'finished', ids: failed });
    this.#flushDeps();
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

  async setProgress(id: string, attempt: number, progress: Progress): Promise<boolean> {
    const task = this.#tasks.get(id);
    if (task?.status !== 'RUNNING' || task.attempts !== attempt) return false;
    // A copy: the caller cannot change what is stored.
    task.progress = { ...progress };
    this.#events.emit({ type: 'progress', id, progress: { ...progress } });
    return true;
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
    if (previous !== 'QUEUED' && previous !== 'WAITING' && previous !== 'RUNNING') {
      return { previous, owner, changed: false };
    }
    this.#unqueue(task);
    const freed = previous === 'RUNNING' && this.#freeSlot(task);
    this.#finish(task, 'CANCELLED', Date.now());
    if (freed) this.#events.emit({ type: 'queued' });
    this.#events.emit({ type: 'cancelled', id, owner });
    this.#events.emit({ type: 'finished', ids: [id] });
    this.#flushDeps();
    return { previous, owner, changed: true };
  }

  async retryTask(id: string): Promise<RetryResult | undefined> {
    const task = this.#tasks.get(id);
    if (!task) return undefined;
    const previous = task.status;
    if (previous !== 'FAILED' && previous !== 'CANCELLED') return { previous, changed: false };
    if (previous === 'FAILED' && task.result !== undefined) {
      task.errors = [...task.errors, errorOf({ attempt: task.attempts, value: task.result })];
    }
    task.status = 'QUEUED';
    task.result = undefined;
    task.finished_at = undefined;
    task.run_ms = undefined;
    task.started_at = undefined;
    task.run_at = undefined;
    task.progress = undefined;
    task.owner = undefined;
    this.#released.set(id, task.attempts);
    this.#expiries.get(id)?.close();
    this.#expiries.delete(id);
    removeId(this.#failed, id);
    const seq = ++this.#seq;
    this.#seqs.set(id, seq);
    const refs = this.#deps.unresolved(id);
    if (!refs || !this.#deps.hold(task, refs, Date.now())) {
      this.#laneQueues(task.lane).push(task.priority, seq, id);
    }
    this.#flushDeps();
    this.#events.emit({ type: 'retried', id });
    this.#events.emit({ type: 'queued' });
    return { previous, changed: true };
  }

  async promoteDue(now: number): Promise<PromoteResult> {
    let promoted = 0;
    let highest: number | undefined;
    const due = takeDue(this.#delayed, now, PROMOTE_LIMIT, true);
    for (const { id } of due) {
      const task = this.#tasks.get(id);
      if (task?.status !== 'WAITING') continue;
      task.status = 'QUEUED';
      this.#laneQueues(task.lane).push(task.priority, this.#seqs.get(id) ?? 0, id);
      highest = Math.max(highest ?? -Infinity, task.priority);
      promoted++;
    }
    const failed: string[] = [];
    const expired = takeDue(this.#deadlines, now, PROMOTE_LIMIT, false);
    for (const { id } of expired) {
      const task = this.#tasks.get(id);
      if (task?.status !== 'QUEUED' && task?.status !== 'WAITING') continue;
      this.#unqueue(task);
      this.#failUnstarted(task, now);
      failed.push(id);
    }
    if (highest !== undefined) this.#events.emit({ type: 'queued', priority: highest });
    if (failed.length > 0) this.#events.emit({ type: 'finished', ids: failed });
    this.#flushDeps();
    const next = [this.#delayed[0]?.at, this.#deadlines[0]?.at].filter(
      (at): at is number => at !== undefined,
    );
    return {
      nextDue: next.length > 0 ? Math.min(...next) : undefined,
      more: due.length === PROMOTE_LIMIT || expired.length === PROMOTE_LIMIT,
      promoted,
      highest,
      failed,
    };
  }

  async listTasks(query: TaskQuery): Promise<TaskPage> {
    const index = query.status === 'FAILED' ? this.#failed : this.#index;
    const cursor = seqCursor(query.cursor);
    const below = cursor === undefined ? Number.POSITIVE_INFINITY : Number(cursor);
    let at = index.length - 1;
    while (at >= 0 && (index[at]?.at ?? 0) >= below) at--;
    const tasks: TaskRecord[] = [];
    let scanned = 0;
    let last: number | undefined;
    for (; at >= 0 && tasks.length < query.limit && scanned < LIST_SCAN_CAP; at--) {
      const entry = index[at] as Queued;
      scanned++;
      last = entry.at;
      const task = this.#tasks.get(entry.id);
      if (!task) continue;
      if (query.status !== undefined && task.status !== query.status) continue;
      if (query.function_id !== undefined && task.function_id !== query.function_id) continue;
      if (task.tenant !== query.tenant) continue;
      tasks.push({ ...task, errors: [...task.errors] });
    }
    // As the Redis script: a cursor unless the scan ran off the end of the index.
    return at < 0 || last === undefined ? { tasks } : { tasks, next_cursor: String(last) };
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const task = this.#tasks.get(id);
    return task ? { ...task, errors: [...task.errors] } : undefined;
  }

  async getTasks(ids: readonly string[]): Promise<(TaskRecord | undefined)[]> {
    return Promise.all(ids.map((id) => this.getTask(id)));
  }

  async taskOwners(ids: readonly string[]): Promise<(TaskOwner | undefined)[]> {
    return ids.map((id) => {
      const task = this.#tasks.get(id);
      return task && { tenant: task.tenant };
    });
  }

  async queueDepth(): Promise<number> {
    let depth = this.#queues.size;
    for (const { queues } of this.#lanes.values()) depth += queues.size;
    return depth;
  }

  async queuedByPriority(): Promise<PriorityCount[]> {
    const counts = new Map<number, number>();
    this.#queues.countByPriority(counts);
    for (const { queues } of this.#lanes.values()) queues.countByPriority(counts);
    return [...counts]
      .map(([priority, queued]) => ({ priority, queued }))
      .sort((a, b) => b.priority - a.priority);
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

  /** `ran`: ended by its own outcome, so it keeps `owner`, who ran it (as Redis's complete script). */
  #finish(task: TaskRecord, status: TaskStatus, now: number, ran = false): void {
    task.status = status;
    task.finished_at = now;
    if (!ran) task.owner = undefined;
    this.#leases.delete(task.id);
    if (status === 'FAILED')
      insertSorted(this.#failed, { at: this.#seqs.get(task.id) ?? 0, id: task.id });
    if (this.#ttlMs > 0) {
      const timer = setTimeout(() => this.#forget(task.id), this.#ttlMs);
      timer.unref();
      this.#expiries.set(task.id, { close: () => clearTimeout(timer) });
    }
    this.#deps.ended(task, now);
  }

  /** A new task with references: true when it waits for them (or failed at once with one). */
  #holds(task: NewTask, record: TaskRecord, now: number): boolean {
    // Its lane is known (with its limit) before it is released, as Redis's HSETNX does.
    this.#laneQueues(task.lane);
    return this.#deps.hold(record, task.refs ?? [], now);
  }

  #flushDeps(): void {
    this.#deps.flush((event) => this.#events.emit(event));
  }

  /** A finished task's TTL ran out: it is gone, as an expired Redis hash is. */
  #forget(id: string): void {
    this.#tasks.delete(id);
    this.#released.delete(id);
    this.#seqs.delete(id);
    this.#expiries.delete(id);
    this.#deps.forget(id);
    // Index entries stay until trimIndexes: a splice per expiry would cost O(n) each.
  }

  async trimIndexes(): Promise<{ removed: number; more: boolean }> {
    let removed = 0;
    for (const list of [this.#index, this.#failed]) {
      const kept = list.filter((q) => this.#tasks.has(q.id));
      removed += list.length - kept.length;
      list.splice(0, list.length, ...kept);
    }
    return { removed, more: false };
  }

  /** Takes a QUEUED or WAITING task out of wherever it waits. */
  #unqueue(task: TaskRecord): void {
    if (task.status === 'QUEUED') this.#laneQueues(task.lane).remove(task.priority, task.id);
    removeId(this.#delayed, task.id);
    removeId(this.#deadlines, task.id);
  }

  #failUnstarted(task: TaskRecord, now: number): void {
    task.result = DEADLINE_RESULT;
    this.#finish(task, 'FAILED', now);
  }
}
