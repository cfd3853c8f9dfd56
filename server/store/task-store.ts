/**
 * The narrow interface between the grid and where it keeps things. Two
 * implementations: RedisStore (durable, the default) and MemoryStore (for a
 * machine with no Redis). One shared test suite runs against both.
 *
 * Every method that changes more than one thing does it atomically, and every
 * batch method is one round trip, whatever the batch length.
 */

import type { RetryPolicy } from '../../shared/submit-fields.js';
import type { TaskAssignment, TaskOutcome, TaskStatus } from '../../shared/types.js';
import type { ClaimFilter } from './lanes.js';
import type { ScheduleStore } from './schedule-store.js';

export type { RetryPolicy };

/** What a running function last reported through `progress(value, note?)`. */
export interface Progress {
  value: number;
  note?: string;
  /** When the server received it (ms since epoch). */
  at: number;
}

/** The error of one failed run, as GET /task lists them. */
export interface TaskError {
  attempt: number;
  name: string;
  message: string;
}

export interface FunctionRecord {
  id: string;
  name: string;
  source: string;
  created_at: number;
  /** Default timeout of this function's tasks; the server's when absent. */
  timeout_ms?: number | undefined;
  /** Default retry policy of this function's tasks; none when absent. */
  retry?: RetryPolicy | undefined;
  /** Labels every task of it carries (sorted); none when absent. */
  labels?: string[] | undefined;
  /** At most this many of its tasks RUNNING at once, across the grid; no limit when absent. */
  concurrency?: number | undefined;
  /** The tenant whose client registered it; absent for `default` (server/tenants.ts). */
  tenant?: string | undefined;
}

export interface NewTask {
  id: string;
  function_id: string;
  /**
   * JSON text of the argument list, or its UTF-8 bytes as a client sent them
   * (checked already): a Redis store sends those as they are, and large
   * arguments held as bytes cost V8's collector nothing while they are stored.
   */
  args: string | Buffer;
  timeout_ms: number;
  created_at: number;
  /** A retried submit with the same key gets the task stored the first time. */
  idempotency_key?: string | undefined;
  /** -100…100, higher first; 0 when absent. */
  priority?: number | undefined;
  /** WAITING until then (ms since epoch), then QUEUED; QUEUED at once when absent. */
  run_at?: number | undefined;
  /** Not started by then (ms since epoch): FAILED with DeadlineExceededError. */
  deadline_at?: number | undefined;
  retry?: RetryPolicy | undefined;
  /** Its lane (lanes.ts) and the lane's concurrency limit (0: none); the default lane when absent. */
  lane?: { id: string; limit: number } | undefined;
  /** The tenant whose client submitted it (its function's); absent for `default`. */
  tenant?: string | undefined;
  /**
   * The tasks whose results are some of the arguments, each once, in order
   * of first use: the task is WAITING until they are all COMPLETED.
   */
  depends_on?: string[] | undefined;
  /** Where in `args` each `{"$task": id}` element is, in order (with `depends_on`). */
  refs?: TaskReference[] | undefined;
}

/** The tenant a retained task belongs to (undefined: `default`). */
export interface TaskOwner {
  tenant: string | undefined;
}

/** An element `{"$task": id}` of an argument array: `args.slice(start, end)` (UTF-16 offsets). */
export interface TaskReference {
  id: string;
  start: number;
  end: number;
}

/** What decides where a new task is kept, on a store sharded over a cluster (sharded-store.ts). */
export interface TaskPlacement {
  lane?: { id: string; limit: number } | undefined;
  idempotency_key?: string | undefined;
}

export interface EnqueueResult {
  /** Position in the batch → id of the task stored earlier under the same idempotency key. */
  duplicates: Map<number, string>;
}

export interface TaskRecord {
  id: string;
  function_id: string;
  status: TaskStatus;
  args: string;
  /** JSON text of the return value (COMPLETED) or of ErrorData (FAILED). */
  result: string | undefined;
  attempts: number;
  timeout_ms: number;
  created_at: number;
  /** When the task last became RUNNING (leased to a thread or worker). */
  started_at: number | undefined;
  finished_at: number | undefined;
  /** Run time measured in the thread that produced the result. */
  run_ms: number | undefined;
  /**
   * `<server instance>/<worker>` holding the lease while RUNNING; once its own
   * outcome finished it, who ran it (cleared by a retry, a requeue or a cancel).
   */
  owner: string | undefined;
  priority: number;
  /** When a WAITING task becomes QUEUED (a delay or a retry's backoff). */
  run_at: number | undefined;
  deadline_at: number | undefined;
  retry: RetryPolicy | undefined;
  /** What the running function last reported. */
  progress: Progress | undefined;
  /** The errors of earlier runs that were retried (the last run's error is `result`). */
  errors: TaskError[];
  /** Its lane (lanes.ts); undefined for the default lane. */
  lane: string | undefined;
  /** The tenant it belongs to; absent for `default` (server/tenants.ts). */
  tenant?: string | undefined;
  /** The tasks whose results are among its arguments; undefined when none. */
  depends_on: string[] | undefined;
}

export interface ClaimResult {
  tasks: TaskAssignment[];
  /** When each claimed task was submitted (ms since epoch), in the order of `tasks`. */
  created: number[];
  /** True when the queue is empty after this claim. */
  drained: boolean;
  /**
   * The highest priority left that the holder could take (a Redis store's
   * claim tells; a sharded store orders its shards by it). Absent: unknown.
   */
  top?: number;
}

export interface CancelResult {
  /** The status before the cancel. */
  previous: TaskStatus;
  /** The owner of the lease when the task was RUNNING. */
  owner: string | undefined;
  changed: boolean;
}

export interface LeaseReturn {
  id: string;
  attempt: number;
}

export interface RequeueResult {
  requeued: string[];
  /** Tasks that reached the attempt cap and are now FAILED with WorkerLostError. */
  failed: string[];
}

export type StoreEvent =
  /**
   * Tasks became QUEUED. `priority`, when known: the highest among them
   * (new submits and promoted ones); a task held ahead of time at a lower
   * priority should go back, so it does not start before them.
   */
  | { type: 'queued'; priority?: number }
  /** A task waits until `at` (a delay, a backoff, a deadline): the lifecycle timer should look then. */
  | { type: 'due'; at: number }
  | {
      type: 'finished';
      ids: readonly string[];
      /** The outcomes this process applied, so local waiters need not read them back. */
      outcomes?: readonly TaskOutcome[];
    }
  | { type: 'cancelled'; id: string; owner: string | undefined }
  /** A finished task was retried: what any server kept of its outcome is stale. */
  | { type: 'retried'; id: string }
  /** A running task's progress was stored (setProgress), here or on another server. */
  | { type: 'progress'; id: string; progress: Progress }
  /**
   * Events may have been missed (the store's event connection was down): every
   * listener should look again at what it waits for.
   */
  | { type: 'resync' };

/** What one call of the lifecycle timer did (promoteDue). */
export interface PromoteResult {
  /** When something next falls due (ms since epoch), if anything waits. */
  nextDue: number | undefined;
  /** More was due than one call handles: call again at once. */
  more: boolean;
  /** Tasks that became QUEUED. */
  promoted: number;
  /** The highest priority among them; undefined when none was. */
  highest: number | undefined;
  /** Tasks whose deadline passed before they started: FAILED now. */
  failed: string[];
}

export interface TaskQuery {
  status?: TaskStatus | undefined;
  function_id?: string | undefined;
  /** 1…1000. */
  limit: number;
  /** From the previous page's `next_cursor`. */
  cursor?: string | undefined;
  /** Only this tenant's tasks; undefined: only `default`'s (those stored with no tenant). */
  tenant?: string | undefined;
}

export interface TaskPage {
  /** Newest first. */
  tasks: TaskRecord[];
  /** Absent on the last page. */
  next_cursor?: string;
}

/** How many QUEUED tasks one priority has (the ops console's queue view). */
export interface PriorityCount {
  priority: number;
  queued: number;
}

export interface RetryResult {
  /** The status before the retry. */
  previous: TaskStatus;
  /** False when the task was not FAILED or CANCELLED (nothing changed). */
  changed: boolean;
}

export type StoreListener = (event: StoreEvent) => void;

export interface TaskStore {
  readonly kind: 'redis' | 'memory' | 'redis-cluster';
  /** Cron schedules, kept beside the tasks (schedule-store.ts). */
  readonly schedules: ScheduleStore;
  /**
   * Ids for new tasks, in order: any UUID v4 on one store; a sharded store
   * picks ids that name the shard each task will live in.
   */
  newTaskIds(tasks: readonly TaskPlacement[]): string[];
  registerFunction(fn: FunctionRecord): Promise<void>;
  getFunction(id: string): Promise<FunctionRecord | undefined>;
  /** Every registered function, oldest first. */
  listFunctions(): Promise<FunctionRecord[]>;
  /**
   * Removes a function's record and cancels its tasks that have not started
   * (QUEUED, WAITING); running ones finish. Undefined when there was none.
   */
  deleteFunction(id: string): Promise<{ cancelled: string[] } | undefined>;
  /**
   * Stores the tasks as QUEUED and appends them to the queue, all or nothing;
   * tasks whose idempotency key is known are not stored again. Rejects with
   * UnavailableError only when nothing was stored.
   */
  enqueue(tasks: readonly NewTask[]): Promise<EnqueueResult>;
  /**
   * enqueue, then claim: one atomic step for a dispatcher that has room the
   * moment tasks arrive. Older queued tasks are claimed first.
   */
  enqueueAndClaim(
    tasks: readonly NewTask[],
    max: number,
    owner: string,
    leaseMs: number,
    filter?: ClaimFilter,
  ): Promise<ClaimResult & EnqueueResult>;
  /**
   * Takes up to `max` tasks from the lanes `filter` may take from (the
   * default lane only, without one), fairly across lanes, and leases them to `owner`.
   */
  claim(max: number, owner: string, leaseMs: number, filter?: ClaimFilter): Promise<ClaimResult>;
  /** Applies outcomes to RUNNING tasks of the same attempt; returns the ids applied. */
  complete(outcomes: readonly TaskOutcome[]): Promise<string[]>;
  /**
   * Returns leased tasks whose holder was lost to the head of the queue, or
   * fails them once they were lost `maxAttempts` times.
   */
  requeue(tasks: readonly LeaseReturn[], maxAttempts: number): Promise<RequeueResult>;
  /** Returns leased tasks to the head of the queue without counting it against them. */
  release(tasks: readonly LeaseReturn[]): Promise<void>;
  /**
   * Extends the leases of tasks still RUNNING under the given attempt; returns
   * the ids that are not (requeued by a peer, finished, cancelled).
   */
  renewLeases(tasks: readonly LeaseReturn[], leaseMs: number): Promise<string[]>;
  /**
   * Stores what a running function reported, only while the task is RUNNING
   * under `attempt` (an earlier attempt's or a finished task's update is
   * refused); true when stored, and then a progress event goes to every
   * server's subscribers.
   */
  setProgress(id: string, attempt: number, progress: Progress): Promise<boolean>;
  /** Marks this server instance alive for `ttlMs`; leases of dead instances are stale. */
  heartbeat(instanceId: string, ttlMs: number): Promise<void>;
  /** RUNNING tasks whose lease ended before `now` or whose owner instance is gone. */
  staleLeases(now: number, limit: number): Promise<LeaseReturn[]>;
  /** QUEUED, WAITING or RUNNING → CANCELLED; undefined for an unknown id. */
  cancel(id: string): Promise<CancelResult | undefined>;
  /** FAILED or CANCELLED → QUEUED again, same id; undefined for an unknown id. */
  retryTask(id: string): Promise<RetryResult | undefined>;
  /**
   * The clock's work: WAITING tasks whose time came become QUEUED; tasks not
   * started by their deadline fail. Each server calls it when something falls due.
   */
  promoteDue(now: number): Promise<PromoteResult>;
  /** One page of retained tasks, newest first (GET /tasks). */
  listTasks(query: TaskQuery): Promise<TaskPage>;
  /**
   * Drops the oldest listing-index entries of tasks that expired; `more`
   * when there may be more to drop right away.
   */
  trimIndexes(): Promise<{ removed: number; more: boolean }>;
  getTask(id: string): Promise<TaskRecord | undefined>;
  /** Many tasks in one round trip, in the order of `ids`. */
  getTasks(ids: readonly string[]): Promise<(TaskRecord | undefined)[]>;
  queueDepth(): Promise<number>;
  /**
   * QUEUED tasks per priority over every lane, highest priority first, only
   * priorities that have some; they add up to `queueDepth`. O(lanes ×
   * priorities present), for views read now and then (the dashboard's
   * stats), never per task.
   */
  queuedByPriority(): Promise<PriorityCount[]>;
  /** Resolves when the store answers; rejects (UnavailableError) when it does not. */
  ping(): Promise<void>;
  /** Queue, finish and cancel events, from this process and (Redis) from other servers. */
  subscribe(listener: StoreListener): () => void;
  close(): Promise<void>;
  /**
   * Whose each task is (undefined: not retained), in one round trip, in the
   * order of `ids`: a submit checks its references without reading their results.
   */
  taskOwners(ids: readonly string[]): Promise<(TaskOwner | undefined)[]>;
}
