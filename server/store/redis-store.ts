/**
 * The Redis TaskStore. The queue is a LIST of task ids (FIFO, durable), each
 * task a HASH, leases a ZSET by expiry; every multi-key change is one Lua
 * script or one MULTI. Completions, queue wake-ups and cancels are also
 * published on one channel so that several servers on one Redis wake each
 * other's long-polls and dispatchers.
 */

import { v4 as uuidv4 } from 'uuid';
import { DEFAULT_KEY_PREFIX } from '../../shared/defaults.js';
import { ConfigError, UnavailableError, UnknownOutcomeError } from '../../shared/errors.js';
import type { TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { DEFAULT_IDEMPOTENCY_TTL_SECONDS, DEFAULT_RESULT_TTL_SECONDS } from '../server-config.js';
import { functionFromHash, functionToHash } from './function-hash.js';
import { HeldBulkArgs } from './held-bulk-args.js';
import {
  ANY_HOLDER,
  type ClaimFilter,
  DEFAULT_LANE,
  type LaneInfo,
  laneServes,
  parseLaneId,
} from './lanes.js';
import { seqCursor } from './list-cursor.js';
import { CANCEL_LUA } from './lua/cancel.js';
import { CLAIM_LUA, claimFloor, ENQUEUE_CLAIM_LUA, ENQUEUE_LUA } from './lua/claim.js';
import { COMPLETE_LUA } from './lua/complete.js';
import { DELETE_FUNCTION_LUA } from './lua/delete-function.js';
import { DISCARD_LUA } from './lua/discard.js';
import { LIST_TASKS_LUA } from './lua/list-tasks.js';
import { PROGRESS_LUA } from './lua/progress.js';
import { PROMOTE_LUA } from './lua/promote.js';
import { QUEUED_BY_PRIORITY_LUA } from './lua/queued-by-priority.js';
import { RENEW_LUA } from './lua/renew.js';
import { REQUEUE_LUA } from './lua/requeue.js';
import { RETRY_TASK_LUA } from './lua/retry-task.js';
import { STALE_LEASES_LUA } from './lua/stale-leases.js';
import { TRIM_INDEX_LUA } from './lua/trim-index.js';
import { parseEventMessage, RedisKeys } from './redis-keys.js';
import { type RedisClient, RedisLink, type Script, luaScript as script } from './redis-link.js';
import {
  hash,
  integer,
  optionalString,
  ReplyError,
  ReplyReader,
  stringArray,
} from './redis-reply.js';
import { RedisScheduleStore } from './redis-schedule-store.js';
import {
  type BulkArgs,
  leasesArgs,
  newTasksArgs,
  outcomesArgs,
  readCancel,
  readClaim,
  readComplete,
  readDeleteFunction,
  readEnqueue,
  readIds,
  readPromote,
  readQueuedByPriority,
  readRequeue,
  readRetry,
  readStaleLeases,
  readTaskIdPage,
  type TaskIdEntry,
  WORKER_LOST_TEMPLATE,
} from './script-io.js';
import { StoreEvents } from './store-events.js';
import { DEADLINE_RESULT } from './store-records.js';
import { F, taskFromHash } from './task-hash.js';
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
  TaskOwner,
  TaskPage,
  TaskPlacement,
  TaskQuery,
  TaskRecord,
  TaskStore,
} from './task-store.js';

export interface RedisStoreOptions {
  /** A tenant's weight in fair dispatch across lanes (1 when not given). */
  weightOf?: (tenant: string | undefined) => number;
  /** The Redis to connect to; or `link`, a connection shared with other stores (shards). */
  url?: string;
  link?: RedisLink;
  prefix?: string;
  /** Identifies this server in published events and lease owners. */
  instanceId: string;
  resultTtlSeconds?: number;
  /** How long an idempotency key maps to its task. */
  idempotencyTtlSeconds?: number;
  /** A command that takes longer rejects with UnavailableError. */
  commandTimeoutMs?: number;
  /** How long the first connection may take before start-up fails. */
  connectTimeoutMs?: number;
  onError?: (error: Error) => void;
  /** A shard of a sharded store: called when its outbox has messages (shard-relay.ts). */
  onOutbox?: () => void;
  /** Large argument texts this server stored lately; the shards of a sharded store share one. */
  heldArgs?: HeldBulkArgs;
}

/** What the cross-shard steps of a sharded store (shard-relay.ts) use of one shard's store. */
export interface ShardPort {
  keys: RedisKeys;
  instanceId: string;
  resultTtlSeconds: number;
  /** The lane key heads and keys every lane-aware script takes. */
  laneArgs: string[];
  /** Runs a script as the store does: bounded in time, connection trouble as UnavailableError. */
  run(s: Script, keys: string[], args: string[]): Promise<unknown>;
}

const SCRIPTS = {
  claim: script(CLAIM_LUA),
  enqueue: script(ENQUEUE_LUA),
  enqueueClaim: script(ENQUEUE_CLAIM_LUA),
  complete: script(COMPLETE_LUA),
  discard: script(DISCARD_LUA),
  requeue: script(REQUEUE_LUA),
  renew: script(RENEW_LUA),
  cancel: script(CANCEL_LUA),
  staleLeases: script(STALE_LEASES_LUA),
  promote: script(PROMOTE_LUA),
  retryTask: script(RETRY_TASK_LUA),
  listTasks: script(LIST_TASKS_LUA),
  deleteFunction: script(DELETE_FUNCTION_LUA),
  trimIndex: script(TRIM_INDEX_LUA),
  progress: script(PROGRESS_LUA),
  queuedByPriority: script(QUEUED_BY_PRIORITY_LUA),
};

/** Index entries one trim call looks at per index. */
const TRIM_LIMIT = 1000;

/** Tasks a promote call moves (and fails) at most; more are left for the next call. */
const PROMOTE_LIMIT = 1000;
/** Index entries one GET /tasks page looks at, at most: a rare filter answers a short page and a cursor. */
const LIST_SCAN_CAP = 5000;

/**
 * Errors that say Redis cannot serve right now, whatever was asked: a lost
 * connection, or Redis busy, loading, out of memory or read-only. Retrying
 * later helps; they are answered 503 and outcomes wait for them to pass.
 */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (
    /^(OOM|LOADING|BUSY|READONLY|MASTERDOWN|NOREPLICAS|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message)
  ) {
    return true;
  }
  return /closed|offline|socket|timeout|ECONN|EPIPE|not ready|reconnect/i.test(
    `${error.name} ${error.message}`,
  );
}

/** How long before the server gives up on a command the enqueue scripts stop storing. */
const DEADLINE_MARGIN_MS = 250;

/**
 * How long a task's bulk_args hash lives when the enqueue script of its
 * MULTI did not run (NOSCRIPT, an error): the script keeps the ones it stores.
 */
const BULK_ORPHAN_TTL_SECONDS = 3600;

/**
 * The duplicates of an enqueue script's reply; rejects with UnavailableError
 * when the script ran past its deadline and stored nothing.
 */
function enqueued(read: ReplyReader, batch: number): EnqueueResult {
  const result = readEnqueue(read, batch);
  if (!result) {
    // Redis ran the script after we had given up on it: it stored nothing.
    throw new UnavailableError('Redis answered too late; the task was not stored; retry');
  }
  return result;
}

export class RedisStore implements TaskStore {
  readonly kind = 'redis';
  readonly keys: RedisKeys;
  readonly schedules: RedisScheduleStore;
  readonly #link: RedisLink;
  /** This store opened the link (not a shard of a sharded store): it connects and closes it. */
  readonly #ownsLink: boolean;
  readonly #client: RedisClient;
  readonly #events = new StoreEvents();
  readonly #options: Required<
    Omit<RedisStoreOptions, 'onError' | 'weightOf' | 'url' | 'link' | 'onOutbox' | 'heldArgs'>
  > &
    Pick<RedisStoreOptions, 'onError' | 'weightOf' | 'onOutbox'>;
  /** Bulk texts this store wrote, until a claim here takes them (held-bulk-args.ts). */
  readonly #held: HeldBulkArgs;
  #closed = false;
  /** Redis's clock minus ours (ms), so script deadlines are set in Redis's clock. */
  #clockOffsetMs = 0;
  /** Where the next dead-owner scan of the lease set starts. */
  #leaseCursor = 0;
  /** Every lane but the default one, as the `lanes` hash lists them. */
  readonly #lanes = new Map<string, LaneInfo>();

  constructor(options: RedisStoreOptions) {
    this.#options = {
      prefix: DEFAULT_KEY_PREFIX,
      resultTtlSeconds: DEFAULT_RESULT_TTL_SECONDS,
      idempotencyTtlSeconds: DEFAULT_IDEMPOTENCY_TTL_SECONDS,
      commandTimeoutMs: 2000,
      connectTimeoutMs: 3000,
      ...options,
    };
    this.keys = new RedisKeys(this.#options.prefix);
    this.#held = options.heldArgs ?? new HeldBulkArgs();
    this.#ownsLink = options.link === undefined;
    this.#link =
      options.link ??
      new RedisLink({
        target: { url: options.url ?? 'redis://127.0.0.1:6379' },
        connectTimeoutMs: this.#options.connectTimeoutMs,
        onError: options.onError,
      });
    this.#client = this.#link.client;
    this.schedules = new RedisScheduleStore({
      link: this.#link,
      keys: this.keys,
      instanceId: this.#options.instanceId,
      call: (run) => this.#call(run),
    });
    this.#link.onResync(() => this.#events.emit({ type: 'resync' }));
  }

  /**
   * Connects (its own link; a shared one is connected by its owner) and
   * subscribes to its events; rejects with ConfigError when Redis does not answer.
   */
  async connect(): Promise<void> {
    if (this.#ownsLink) await this.#link.connect();
    try {
      await this.#link.listen(this.keys.events, (message) => this.#onMessage(message));
      await this.#measureClock();
      await this.#loadLanes();
    } catch (error) {
      await this.close();
      const message = asError(error).message;
      if (error instanceof ConfigError || message.startsWith('Redis at ')) {
        throw new ConfigError(message);
      }
      throw new ConfigError(`Redis at ${this.#link.description} does not answer: ${message}`);
    }
  }

  newTaskIds(tasks: readonly TaskPlacement[]): string[] {
    return tasks.map(() => uuidv4());
  }

  async registerFunction(fn: FunctionRecord): Promise<void> {
    await this.#call(() =>
      this.#client
        .multi()
        .hSet(this.keys.fn(fn.id), functionToHash(fn))
        .zAdd(this.keys.functions, { score: fn.created_at, value: fn.id })
        .exec(),
    );
  }

  async listFunctions(): Promise<FunctionRecord[]> {
    const ids = stringArray(
      await this.#call(() => this.#client.zRange(this.keys.functions, 0, -1)),
      'functions',
    );
    if (ids.length === 0) return [];
    const replies = await this.#call(() => {
      const batch = this.#client.multi();
      for (const id of ids) batch.hGetAll(this.keys.fn(id));
      return batch.execAsPipeline();
    });
    const out: FunctionRecord[] = [];
    ids.forEach((id, i) => {
      const fn = functionFromHash(id, replies[i]);
      if (fn) out.push(fn);
    });
    return out;
  }

  async getFunction(id: string): Promise<FunctionRecord | undefined> {
    return functionFromHash(id, await this.#call(() => this.#client.hGetAll(this.keys.fn(id))));
  }

  async deleteFunction(id: string): Promise<{ cancelled: string[] } | undefined> {
    const announce = (raw: unknown): { cancelled: string[] } | undefined => {
      const result = readDeleteFunction(raw);
      if (result && result.cancelled.length > 0) {
        this.#events.emit({ type: 'finished', ids: result.cancelled });
      }
      return result;
    };
    const raw = await this.#script(
      SCRIPTS.deleteFunction,
      [
        this.keys.fn(id),
        this.keys.functions,
        this.keys.queue,
        this.keys.prio,
        this.keys.delayed,
        this.keys.deadlines,
        this.keys.events,
        this.keys.failed,
      ],
      [
        this.keys.taskHead,
        id,
        String(Date.now()),
        String(this.#options.resultTtlSeconds),
        this.#options.instanceId,
        ...this.#laneArgs(),
      ],
      announce,
    );
    return announce(raw);
  }

  async enqueue(tasks: readonly NewTask[]): Promise<EnqueueResult> {
    if (tasks.length === 0) return { duplicates: new Map() };
    this.#noteLanes(tasks);
    const { json, args, bulk } = newTasksArgs(tasks);
    this.#hold(bulk);
    const raw = await this.#script(
      SCRIPTS.enqueue,
      [
        this.keys.queue,
        this.keys.events,
        this.keys.prio,
        this.keys.delayed,
        this.keys.deadlines,
        this.keys.index,
        this.keys.seq,
        this.keys.failed,
      ],
      [
        this.keys.taskHead,
        this.keys.idempotencyHead,
        json,
        this.#options.instanceId,
        this.#deadline(),
        String(this.#options.idempotencyTtlSeconds),
        ...this.#laneArgs(),
        String(this.#options.resultTtlSeconds),
        ...args,
      ],
      (late) => this.#discardLate(late, tasks),
      true,
      bulk,
    ).catch((error: unknown) => this.#unhold(bulk, error));
    const read = new ReplyReader(stringArray(raw, 'enqueue'), 'enqueue');
    const { duplicates } = enqueued(read, tasks.length);
    read.end();
    this.#dropHeld(tasks, duplicates);
    this.#announceStored(tasks, duplicates);
    return { duplicates };
  }

  async enqueueAndClaim(
    tasks: readonly NewTask[],
    max: number,
    owner: string,
    leaseMs: number,
    filter?: ClaimFilter,
    floor?: number,
  ): Promise<ClaimResult & EnqueueResult> {
    const now = Date.now();
    this.#noteLanes(tasks);
    const { json, args: taskArgs, bulk } = newTasksArgs(tasks);
    this.#hold(bulk);
    const lanes = this.#eligibleLanes(filter);
    const args = [
      this.keys.taskHead,
      this.keys.idempotencyHead,
      String(max),
      owner,
      String(now),
      String(now + leaseMs),
      this.#options.instanceId,
      json,
      this.#deadline(),
      String(this.#options.idempotencyTtlSeconds),
      String(this.#options.resultTtlSeconds),
      DEADLINE_RESULT,
      ...this.#laneArgs(),
      claimFloor(floor),
      String(lanes.length),
      ...lanes,
      ...taskArgs,
    ];
    const raw = await this.#script(
      SCRIPTS.enqueueClaim,
      [
        this.keys.queue,
        this.keys.leases,
        this.keys.events,
        this.keys.prio,
        this.keys.delayed,
        this.keys.deadlines,
        this.keys.index,
        this.keys.seq,
        this.keys.failed,
      ],
      args,
      (late) => this.#discardLate(late, tasks),
      true,
      bulk,
    ).catch((error: unknown) => this.#unhold(bulk, error));
    const read = new ReplyReader(stringArray(raw, 'enqueue-claim'), 'enqueue-claim');
    const { duplicates } = enqueued(read, tasks.length);
    this.#dropHeld(tasks, duplicates);
    this.#announceStored(tasks, duplicates);
    let claim: ClaimResult;
    try {
      claim = await this.#withBulkArgs(readClaim(read));
    } catch (error) {
      // The tasks are stored: the submit succeeded. The claim was given back; say why.
      this.#options.onError?.(asError(error));
      claim = { tasks: [], created: [], drained: false };
    }
    return { duplicates, ...claim };
  }

  /** `floor`: take no task of a lower priority (a sharded store's claim; none by default). */
  async claim(
    max: number,
    owner: string,
    leaseMs: number,
    filter?: ClaimFilter,
    floor?: number,
  ): Promise<ClaimResult> {
    const now = Date.now();
    const raw = await this.#script(
      SCRIPTS.claim,
      [
        this.keys.queue,
        this.keys.leases,
        this.keys.prio,
        this.keys.deadlines,
        this.keys.failed,
        this.keys.events,
      ],
      [
        this.keys.taskHead,
        String(max),
        owner,
        String(now),
        String(now + leaseMs),
        String(this.#options.resultTtlSeconds),
        DEADLINE_RESULT,
        ...this.#laneArgs(),
        claimFloor(floor),
        ...this.#eligibleLanes(filter),
      ],
      (late) => this.#releaseLate(late),
    );
    return this.#withBulkArgs(readClaim(new ReplyReader(stringArray(raw, 'claim'), 'claim')));
  }

  /** Bulk texts are held from before their enqueue runs: a claim may take them in the same reply. */
  #hold(bulk: readonly BulkArgs[]): void {
    for (const b of bulk) this.#held.add(b.id, b.text);
  }

  /** A failed enqueue's texts are not held on: if its tasks were stored after all, a claim reads them. */
  #unhold(bulk: readonly BulkArgs[], error: unknown): never {
    for (const b of bulk) this.#held.drop(b.id);
    throw error;
  }

  /** A duplicate's fresh id was never stored: its text will never be claimed. */
  #dropHeld(tasks: readonly NewTask[], duplicates: ReadonlyMap<number, string>): void {
    for (const position of duplicates.keys()) {
      const task = tasks[position];
      if (task) this.#held.drop(task.id);
    }
  }

  /**
   * Claimed tasks whose argument text is in `bulk_args` (BULK_ARGS_BYTES)
   * get it: from what this server holds (held-bulk-args.ts), else by plain
   * HGETs. A task whose hash is gone by then (deleted) is left out: nobody
   * waits for it. When the read fails, the claim is given back before the
   * error goes on.
   */
  async #withBulkArgs(claim: ClaimResult): Promise<ClaimResult> {
    const texts = new Map<string, string | undefined>();
    const unread: TaskAssignment[] = [];
    for (const t of claim.tasks) {
      if (t.args !== '') continue;
      const text = this.#held.take(t.id);
      if (text === undefined) unread.push(t);
      else texts.set(t.id, text);
    }
    if (texts.size === 0 && unread.length === 0) return claim;
    if (unread.length > 0) {
      let replies: unknown[];
      try {
        replies = await this.#call(() => {
          const batch = this.#client.multi();
          for (const t of unread) batch.hGet(this.keys.task(t.id), F.bulkArgs);
          return batch.execAsPipeline();
        });
      } catch (error) {
        this.release(claim.tasks.map((t) => ({ id: t.id, attempt: t.attempt }))).catch(() => {
          // Their leases end and the lease keeper requeues them.
        });
        throw error;
      }
      unread.forEach((t, i) => {
        texts.set(t.id, optionalString(replies[i], `bulk_args of task ${t.id}`));
      });
    }
    const kept: ClaimResult = { ...claim, tasks: [], created: [] };
    claim.tasks.forEach((task, i) => {
      const args = task.args === '' ? texts.get(task.id) : task.args;
      if (args === undefined) return;
      kept.tasks.push({ ...task, args });
      kept.created.push(claim.created[i] ?? 0);
    });
    return kept;
  }

  async complete(outcomes: readonly TaskOutcome[]): Promise<string[]> {
    if (outcomes.length === 0) return [];
    const args = [
      this.keys.taskHead,
      String(Date.now()),
      String(this.#options.resultTtlSeconds),
      this.#options.instanceId,
      ...outcomesArgs(outcomes),
      this.keys.functionHead,
      this.keys.laneQueueHead,
      this.keys.lanePrioHead,
    ];
    // A call that Redis runs after we gave up still stored outcomes: announce them
    // when its reply comes (the retry will find them applied and announce nothing).
    const announce = (raw: unknown): string[] => {
      const { finished: applied, retried } = readComplete(raw);
      if (retried.length > 0) this.#events.emit({ type: 'queued' });
      if (applied.length === 0) return applied;
      // Usually every outcome applies; only then is the filter skipped.
      const appliedIds = new Set(applied);
      const done =
        applied.length === outcomes.length
          ? outcomes
          : outcomes.filter((o) => appliedIds.has(o.id));
      this.#events.emit({ type: 'finished', ids: applied, outcomes: done });
      return applied;
    };
    const raw = await this.#script(
      SCRIPTS.complete,
      [
        this.keys.leases,
        this.keys.events,
        this.keys.delayed,
        this.keys.failed,
        this.keys.running,
        this.keys.queue,
        this.keys.prio,
      ],
      args,
      announce,
    );
    return announce(raw);
  }

  requeue(tasks: readonly LeaseReturn[], maxAttempts: number): Promise<RequeueResult> {
    return this.#requeue(tasks, Math.max(1, maxAttempts));
  }

  async release(tasks: readonly LeaseReturn[]): Promise<void> {
    await this.#requeue(tasks, 0);
  }

  async #requeue(tasks: readonly LeaseReturn[], cap: number): Promise<RequeueResult> {
    if (tasks.length === 0) return { requeued: [], failed: [] };
    const args = [
      this.keys.taskHead,
      String(Date.now()),
      String(cap),
      this.#options.instanceId,
      String(this.#options.resultTtlSeconds),
      WORKER_LOST_TEMPLATE,
      ...this.#laneArgs(),
      ...leasesArgs(tasks),
    ];
    const announce = (raw: unknown): RequeueResult => {
      const result = readRequeue(raw);
      if (result.requeued.length > 0) this.#events.emit({ type: 'queued' });
      if (result.failed.length > 0) this.#events.emit({ type: 'finished', ids: result.failed });
      return result;
    };
    const raw = await this.#script(
      SCRIPTS.requeue,
      [this.keys.queue, this.keys.leases, this.keys.events, this.keys.prio, this.keys.failed],
      args,
      announce,
    );
    return announce(raw);
  }

  async renewLeases(tasks: readonly LeaseReturn[], leaseMs: number): Promise<string[]> {
    if (tasks.length === 0) return [];
    const args = [this.keys.taskHead, String(Date.now() + leaseMs), ...leasesArgs(tasks)];
    return readIds(await this.#script(SCRIPTS.renew, [this.keys.leases], args), 'renew');
  }

  async setProgress(id: string, attempt: number, progress: Progress): Promise<boolean> {
    const stored: Progress = { value: progress.value, at: progress.at };
    if (progress.note !== undefined) stored.note = progress.note;
    const raw = await this.#script(
      SCRIPTS.progress,
      [this.keys.task(id), this.keys.events],
      [String(attempt), JSON.stringify(stored), this.#options.instanceId, id, F.progress],
    );
    const applied = integer(raw, 'progress') === 1;
    if (applied) this.#events.emit({ type: 'progress', id, progress: stored });
    return applied;
  }

  async heartbeat(instanceId: string, ttlMs: number): Promise<void> {
    await this.#call(() => this.#client.set(this.keys.instance(instanceId), '1', { PX: ttlMs }));
    await this.#measureClock();
  }

  async staleLeases(now: number, limit: number): Promise<LeaseReturn[]> {
    const { cursor, leases } = readStaleLeases(
      await this.#script(
        SCRIPTS.staleLeases,
        [this.keys.leases],
        [
          this.keys.taskHead,
          this.keys.instanceHead,
          String(now),
          String(limit),
          String(this.#leaseCursor),
        ],
      ),
    );
    this.#leaseCursor = cursor;
    return leases;
  }

  async cancel(id: string): Promise<CancelResult | undefined> {
    const announce = (raw: unknown): CancelResult | undefined => {
      const result = readCancel(raw);
      if (result?.changed) {
        this.#events.emit({ type: 'cancelled', id, owner: result.owner });
        this.#events.emit({ type: 'finished', ids: [id] });
      }
      return result;
    };
    const raw = await this.#script(
      SCRIPTS.cancel,
      [
        this.keys.queue,
        this.keys.leases,
        this.keys.events,
        this.keys.prio,
        this.keys.delayed,
        this.keys.deadlines,
        this.keys.failed,
      ],
      [
        this.keys.taskHead,
        id,
        String(Date.now()),
        this.#options.instanceId,
        String(this.#options.resultTtlSeconds),
        ...this.#laneArgs(),
      ],
      announce,
    );
    return announce(raw);
  }

  async retryTask(id: string): Promise<RetryResult | undefined> {
    const announce = (raw: unknown): RetryResult | undefined => {
      const result = readRetry(raw);
      if (result?.changed) {
        this.#events.emit({ type: 'retried', id });
        this.#events.emit({ type: 'queued' });
      }
      return result;
    };
    const raw = await this.#script(
      SCRIPTS.retryTask,
      [this.keys.queue, this.keys.prio, this.keys.failed, this.keys.events, this.keys.seq],
      [
        this.keys.taskHead,
        id,
        this.#options.instanceId,
        ...this.#laneArgs(),
        String(this.#options.resultTtlSeconds),
        String(Date.now()),
      ],
      announce,
    );
    return announce(raw);
  }

  async promoteDue(now: number): Promise<PromoteResult> {
    const raw = await this.#script(
      SCRIPTS.promote,
      [
        this.keys.queue,
        this.keys.prio,
        this.keys.delayed,
        this.keys.deadlines,
        this.keys.failed,
        this.keys.events,
      ],
      [
        this.keys.taskHead,
        String(now),
        String(PROMOTE_LIMIT),
        String(this.#options.resultTtlSeconds),
        DEADLINE_RESULT,
        this.#options.instanceId,
        ...this.#laneArgs(),
      ],
    );
    const result = readPromote(raw);
    if (result.highest !== undefined)
      this.#events.emit({ type: 'queued', priority: result.highest });
    if (result.failed.length > 0) this.#events.emit({ type: 'finished', ids: result.failed });
    return result;
  }

  async listTasks(query: TaskQuery): Promise<TaskPage> {
    const { entries, cursor } = await this.listTaskIds(query);
    const records = await this.getTasks(entries.map((e) => e.id));
    const tasks: TaskRecord[] = [];
    for (const record of records) if (record) tasks.push(record);
    return cursor === undefined ? { tasks } : { tasks, next_cursor: cursor };
  }

  /** The ids of one page, each with its index score and submit time (a sharded store merges by them). */
  async listTaskIds(
    query: TaskQuery,
  ): Promise<{ entries: TaskIdEntry[]; cursor: string | undefined }> {
    // The dead-letter set holds only FAILED tasks: the view that must stay fast at any size.
    const index = query.status === 'FAILED' ? this.keys.failed : this.keys.index;
    return readTaskIdPage(
      await this.#script(
        SCRIPTS.listTasks,
        [index],
        [
          this.keys.taskHead,
          seqCursor(query.cursor) ?? '',
          String(query.limit),
          query.status ?? '',
          query.function_id ?? '',
          String(LIST_SCAN_CAP),
          query.tenant ?? '',
        ],
      ),
    );
  }

  async trimIndexes(): Promise<{ removed: number; more: boolean }> {
    const read = new ReplyReader(
      stringArray(
        await this.#script(
          SCRIPTS.trimIndex,
          [this.keys.index, this.keys.failed],
          [this.keys.taskHead, String(TRIM_LIMIT)],
        ),
        'trim-index',
      ),
      'trim-index',
    );
    const removed = read.int('removed');
    const more = read.int('more') === 1;
    read.end();
    return { removed, more };
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const raw = await this.#call(() => this.#client.hGetAll(this.keys.task(id)));
    return taskFromHash(id, raw);
  }

  async getTasks(ids: readonly string[]): Promise<(TaskRecord | undefined)[]> {
    if (ids.length === 0) return [];
    const replies = await this.#call(() => {
      const batch = this.#client.multi();
      for (const id of ids) batch.hGetAll(this.keys.task(id));
      return batch.execAsPipeline();
    });
    if (replies.length !== ids.length) {
      throw new ReplyError('tasks', `${replies.length} replies for ${ids.length} ids`);
    }
    return ids.map((id, i) => taskFromHash(id, replies[i]));
  }

  async taskOwners(ids: readonly string[]): Promise<(TaskOwner | undefined)[]> {
    if (ids.length === 0) return [];
    const replies = await this.#call(() => {
      const batch = this.#client.multi();
      for (const id of ids) {
        batch.exists(this.keys.task(id));
        batch.hGet(this.keys.task(id), F.tenant);
      }
      return batch.execAsPipeline();
    });
    if (replies.length !== ids.length * 2) {
      throw new ReplyError('owners', `${replies.length} replies for ${ids.length} ids`);
    }
    return ids.map((_, i) => {
      if (integer(replies[2 * i], 'EXISTS') !== 1) return undefined;
      const tenant = replies[2 * i + 1];
      if (tenant !== null && typeof tenant !== 'string') {
        throw new ReplyError(
          'owners',
          `field \`${F.tenant}\` should be text, got ${typeof tenant}`,
        );
      }
      return { tenant: tenant ?? undefined };
    });
  }

  async queueDepth(): Promise<number> {
    const k = this.keys;
    const lanes = [...this.#lanes.keys()];
    const counts = await this.#call(() =>
      Promise.all([
        this.#client.lLen(k.queue),
        this.#client.zCard(k.prio),
        ...lanes.flatMap((lane) => [
          this.#client.lLen(`${k.laneQueueHead}${lane}`),
          this.#client.zCard(`${k.lanePrioHead}${lane}`),
        ]),
      ]),
    );
    return counts.reduce<number>((sum, n) => sum + integer(n, 'queue depth'), 0);
  }

  async queuedByPriority(): Promise<PriorityCount[]> {
    const k = this.keys;
    const keys = [k.queue, k.prio];
    for (const lane of this.#lanes.keys()) {
      keys.push(`${k.laneQueueHead}${lane}`, `${k.lanePrioHead}${lane}`);
    }
    return readQueuedByPriority(await this.#script(SCRIPTS.queuedByPriority, keys, []));
  }

  async ping(): Promise<void> {
    // A keyed command: on a cluster it asks the node that holds this store's keys.
    await this.#call(() => this.#client.exists(this.keys.seq));
  }

  /** This store as one shard of a sharded store sees it. */
  shardPort(): ShardPort {
    return {
      keys: this.keys,
      instanceId: this.#options.instanceId,
      resultTtlSeconds: this.#options.resultTtlSeconds,
      laneArgs: this.#laneArgs(),
      run: (s, keys, args) => this.#script(s, keys, args),
    };
  }

  subscribe(listener: StoreListener): () => void {
    return this.#events.add(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.clear();
    if (this.#ownsLink) await this.#link.close();
  }

  /** Events published by other servers on the same Redis and prefix. */
  #onMessage(message: string): void {
    const event = parseEventMessage(message);
    // This server's own events were already emitted locally, with their outcomes
    // (or, for a call that outlived its timeout, when its reply came).
    if (!event || event.instance === this.#options.instanceId) return;
    if (event.kind === 'outbox') {
      this.#options.onOutbox?.();
      return;
    }
    if (event.kind === 'lane') {
      void this.#loadLanes().catch(() => {
        // Read again on the next lane event or resync.
      });
      return;
    }
    if (event.kind === 'queued') {
      this.#events.emit({ type: 'queued', priority: event.priority });
    } else if (event.kind === 'due') this.#events.emit({ type: 'due', at: event.at });
    else if (event.kind === 'retried') this.#events.emit({ type: 'retried', id: event.id });
    else if (event.kind === 'schedules') this.schedules.notify();
    else if (event.kind === 'finished') this.#events.emit({ type: 'finished', ids: event.ids });
    else if (event.kind === 'progress') {
      this.#events.emit({ type: 'progress', id: event.id, progress: event.progress });
    } else this.#events.emit({ type: 'cancelled', id: event.id, owner: event.owner });
  }

  /** The lanes other than the default one, read from Redis (at start, and when one is added). */
  async #loadLanes(): Promise<void> {
    const raw = hash(await this.#call(() => this.#client.hGetAll(this.keys.lanes)), 'lanes');
    for (const [id, limit] of Object.entries(raw)) {
      if (!this.#lanes.has(id)) this.#lanes.set(id, parseLaneId(id, Number(limit) || undefined));
    }
  }

  /** The lane key heads and keys every lane-aware script takes (see laneLocals in lua/claim.ts). */
  #laneArgs(): string[] {
    const k = this.keys;
    return [k.laneQueueHead, k.lanePrioHead, k.running, k.laneVt, k.vtNow, k.lanes];
  }

  /** The lanes a claim for `filter` may take from, as the claim step's lane args. */
  #eligibleLanes(filter: ClaimFilter | undefined): string[] {
    const weightOf = this.#options.weightOf ?? (() => 1);
    const out: string[] = [];
    // The default lane has no tenant: a holder of one tenant does not take from it.
    if (filter === undefined || filter.tenant === undefined) {
      out.push(DEFAULT_LANE, String(weightOf(undefined)), '', '0');
    }
    for (const lane of this.#lanes.values()) {
      if (!laneServes(lane, filter ?? ANY_HOLDER)) continue;
      out.push(
        lane.id,
        String(weightOf(lane.tenant)),
        lane.limited?.fn ?? '',
        String(lane.limited?.limit ?? 0),
      );
    }
    return out;
  }

  /** Lanes this call's tasks use that this store had not seen: known at once, not only by event. */
  #noteLanes(tasks: readonly NewTask[]): void {
    for (const t of tasks) {
      if (t.lane && !this.#lanes.has(t.lane.id)) {
        this.#lanes.set(t.lane.id, parseLaneId(t.lane.id, t.lane.limit || undefined));
      }
    }
  }

  /** Local events for what an enqueue stored: runnable tasks, and the earliest time one waits for. */
  #announceStored(tasks: readonly NewTask[], duplicates: ReadonlyMap<number, string>): void {
    if (duplicates.size === tasks.length) return;
    let runnable = false;
    let highest: number | undefined;
    let due: number | undefined;
    tasks.forEach((t, i) => {
      if (duplicates.has(i)) return;
      if (t.run_at === undefined) runnable = true;
      if (t.run_at === undefined) highest = Math.max(highest ?? -Infinity, t.priority ?? 0);
      for (const at of [t.run_at, t.deadline_at]) {
        if (at !== undefined && (due === undefined || at < due)) due = at;
      }
    });
    if (runnable) this.#events.emit({ type: 'queued', priority: highest ?? 0 });
    if (due !== undefined) this.#events.emit({ type: 'due', at: due });
  }

  /** The last moment (Redis's clock) a script may store tasks this call submits. */
  #deadline(): string {
    return String(
      Date.now() + this.#clockOffsetMs + this.#options.commandTimeoutMs - DEADLINE_MARGIN_MS,
    );
  }

  async #measureClock(): Promise<void> {
    const before = Date.now();
    const read = new ReplyReader(
      stringArray(await this.#call(() => this.#client.time()), 'TIME'),
      'TIME',
    );
    const after = Date.now();
    const redisNow = read.int('seconds') * 1000 + Math.floor(read.int('microseconds') / 1000);
    this.#clockOffsetMs = redisNow - Math.round((before + after) / 2);
  }

  /** Leases a claim took after we gave up on it go straight back, not counted. */
  #releaseLate(raw: unknown): void {
    const { tasks } = readClaim(new ReplyReader(stringArray(raw, 'claim'), 'claim'));
    if (tasks.length === 0) return;
    this.release(tasks.map((t) => ({ id: t.id, attempt: t.attempt }))).catch(() => {
      // Their leases end and the lease keeper requeues them.
    });
  }

  /**
   * An enqueue that Redis ran in time but whose reply came after we answered
   * 503: the caller believes nothing was stored, so remove what was.
   */
  #discardLate(raw: unknown, tasks: readonly NewTask[]): void {
    const read = new ReplyReader(stringArray(raw, 'enqueue'), 'enqueue');
    const result = readEnqueue(read, tasks.length);
    if (!result) return; // stored nothing
    this.discardStored(tasks, result).catch((error: unknown) =>
      this.#options.onError?.(asError(error)),
    );
  }

  /**
   * Takes back tasks an enqueue stored (not the duplicates it found): a
   * caller that was told nothing was stored must not find them run.
   */
  async discardStored(tasks: readonly NewTask[], result: EnqueueResult): Promise<void> {
    const args = [this.keys.taskHead, this.keys.idempotencyHead, ...this.#laneArgs()];
    tasks.forEach((t, i) => {
      if (!result.duplicates.has(i)) args.push(t.id, t.idempotency_key ?? '');
    });
    if (args.length === 8) return;
    const keys = [
      this.keys.queue,
      this.keys.leases,
      this.keys.prio,
      this.keys.delayed,
      this.keys.deadlines,
      this.keys.index,
    ];
    await this.#script(SCRIPTS.discard, keys, args);
  }

  /** `bulk`: argument texts the script expects in their hashes already (script-io.ts, BULK_ARGS_BYTES). */
  async #script(
    s: Script,
    keys: string[],
    args: (string | Buffer)[],
    onLate?: (reply: unknown) => void,
    storesTasks = false,
    bulk: readonly BulkArgs[] = [],
  ): Promise<unknown> {
    if (bulk.length === 0) {
      return this.#call(() => this.#link.run(s, keys, args), onLate, storesTasks);
    }
    const writes = bulk.map((b) => ({
      key: this.keys.task(b.id),
      field: F.bulkArgs,
      value: b.text,
    }));
    return this.#call(
      () => this.#link.runAfterWrites(s, keys, args, writes, BULK_ORPHAN_TTL_SECONDS),
      onLate,
      storesTasks,
    );
  }

  /**
   * Runs a command, bounded in time; connection trouble becomes UnavailableError.
   * When the bound passes first, the command may still run later: `onLate`
   * gets its reply if it ever comes.
   */
  async #call<T>(
    run: () => Promise<T>,
    onLate?: (reply: T) => void,
    storesTasks = false,
  ): Promise<T> {
    if (!this.#link.isReady) throw new UnavailableError('Redis is unreachable; retry shortly');
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new UnavailableError('Redis did not answer in time; retry shortly'));
      }, this.#options.commandTimeoutMs);
    });
    const running = run();
    running.then(
      (reply) => {
        if (!timedOut || !onLate) return;
        try {
          onLate(reply);
        } catch (error) {
          // A late reply of the wrong shape: nobody waits for it any more; say so.
          this.#options.onError?.(asError(error));
        }
      },
      () => {},
    );
    try {
      return await Promise.race([running, timeout]);
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      // A submit whose connection broke after it was sent may have been stored:
      // that is not a 503 (which promises nothing was), but an unknown outcome.
      if (storesTasks && wasSent(error)) {
        throw new UnknownOutcomeError(
          `The connection to Redis broke during the submit (${asError(error).message}); the task may have been stored: retry with the same idempotency key`,
        );
      }
      if (isTransient(error) || !this.#link.isReady) {
        throw new UnavailableError(
          `Redis is unreachable (${asError(error).message}); retry shortly`,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * True when a failed command had reached the connection: only node-redis's
 * refusals to send (client offline or closed) and Redis's own error replies
 * (the script did not run) say it surely was not applied.
 */
function wasSent(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (/^The client is (offline|closed)/.test(error.message)) return false;
  if (/^[A-Z]+ /.test(error.message) && !/^(ECONN|EPIPE)/.test(error.message)) return false;
  return isTransient(error);
}
