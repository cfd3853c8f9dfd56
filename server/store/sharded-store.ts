/**
 * The TaskStore over a Redis Cluster: the queue split into S shards, each a
 * RedisStore under its own hash tag (shard-map.ts), so each of its Lua
 * scripts touches one slot and the shards spread over the masters. What
 * crosses shards is done here, or by messages (shard-relay.ts):
 *
 * - A task lives in the shard its id names. A batch goes to one shard,
 *   round-robin; a task of a function with a concurrency limit goes to its
 *   lane's home shard, where the lane's RUNNING count is (so the limit holds
 *   across the grid); a task with an idempotency key to its key's shard,
 *   where a repeat finds it.
 * - Claims visit the shards round-robin, skipping those known to have
 *   nothing for the holder until a queue event of theirs comes (each shard
 *   has its own event channel, SSUBSCRIBEd).
 * - Functions are written to every shard (the scripts that release and
 *   cancel tasks read them in their own slot); shard 0 is the record that
 *   answers, written last and deleted last. Schedules live in shard 0.
 * - A dependency in another shard releases its dependents by a message.
 * - Listing pages through every shard's index at once, newest first.
 */

import { ConfigError } from '../../shared/errors.js';
import type { TaskOutcome } from '../../shared/types.js';
import { HeldBulkArgs } from './held-bulk-args.js';
import type { ClaimFilter } from './lanes.js';
import { PRIORITY_MAX } from './lua/claim.js';
import { RedisLink } from './redis-link.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';
import type { ScheduleStore } from './schedule-store.js';
import { ShardClaims } from './shard-claims.js';
import { listAcrossShards } from './shard-listing.js';
import { idInShard, shardOfId, shardOfText, shardTag } from './shard-map.js';
import { ShardRelay } from './shard-relay.js';
import { StoreEvents } from './store-events.js';
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

export interface ShardedStoreOptions {
  /** Some nodes of the cluster, host:port. */
  seeds: readonly string[];
  shards: number;
  prefix: string;
  instanceId: string;
  resultTtlSeconds?: number;
  idempotencyTtlSeconds?: number;
  weightOf?: (tenant: string | undefined) => number;
  connectTimeoutMs?: number;
  onError?: (error: Error) => void;
}

/** The shard records functions are read from, and schedules kept in. */
const HOME = 0;

export class ShardedStore implements TaskStore {
  readonly kind = 'redis-cluster';
  readonly schedules: ScheduleStore;
  readonly shardCount: number;
  /** The key prefix before each shard's hash tag. */
  readonly keyPrefix: string;
  readonly #link: RedisLink;
  readonly #shards: RedisStore[];
  readonly #relay: ShardRelay;
  readonly #events = new StoreEvents();
  readonly #prefix: string;
  readonly #claims: ShardClaims;
  /** Where the next batch goes (servers start at different shards). */
  #nextBatch: number;

  constructor(options: ShardedStoreOptions) {
    const { shards } = options;
    this.shardCount = shards;
    this.#nextBatch = Math.floor(Math.random() * shards);
    this.#prefix = options.prefix;
    this.keyPrefix = options.prefix;
    this.#link = new RedisLink({
      target: { cluster: options.seeds },
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      onError: options.onError,
    });
    this.#shards = [];
    // The options each shard takes as they are; absent ones keep the shard's defaults.
    const defined: Partial<RedisStoreOptions> = {};
    if (options.resultTtlSeconds !== undefined) defined.resultTtlSeconds = options.resultTtlSeconds;
    if (options.idempotencyTtlSeconds !== undefined) {
      defined.idempotencyTtlSeconds = options.idempotencyTtlSeconds;
    }
    if (options.weightOf) defined.weightOf = options.weightOf;
    if (options.onError) defined.onError = options.onError;
    // One bound for the large argument texts held for claims, whichever shard stored them.
    const heldArgs = new HeldBulkArgs();
    for (let s = 0; s < shards; s += 1) {
      const shard = new RedisStore({
        ...defined,
        heldArgs,
        link: this.#link,
        prefix: `${options.prefix}{${shardTag(s, shards)}}:`,
        instanceId: options.instanceId,
        onOutbox: () => this.#relay.poke(s),
      });
      shard.subscribe((event) => {
        // Unknown (tasks handed back here): this shard is asked first until a claim says.
        if (event.type === 'queued') this.#claims.queued(s, event.priority ?? PRIORITY_MAX);
        else if (event.type === 'resync') {
          this.#claims.queuedAll();
          return; // one resync per lost link, not one per shard: see connect
        }
        this.#events.emit(event);
      });
      this.#shards.push(shard);
    }
    this.#link.onResync(() => this.#events.emit({ type: 'resync' }));
    this.#claims = new ShardClaims(this.#shards);
    this.#relay = new ShardRelay(
      this.#shards.map((s) => s.shardPort()),
      (error) => options.onError?.(error),
    );
    this.schedules = this.#shard(HOME).schedules;
  }

  async connect(): Promise<void> {
    await this.#link.connect();
    try {
      await this.#checkShardCount();
      await Promise.all(this.#shards.map((s) => s.connect()));
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#relay.start();
  }

  /** Where each new task will live (its shard is in its id). */
  newTaskIds(tasks: readonly TaskPlacement[]): string[] {
    const n = this.shardCount;
    const batch = this.#nextBatch++ % n;
    return tasks.map((t) => {
      let shard = batch;
      if (t.lane && t.lane.limit > 0) shard = shardOfText(t.lane.id, n);
      else if (t.idempotency_key !== undefined) shard = shardOfText(t.idempotency_key, n);
      return idInShard(shard, n);
    });
  }

  async registerFunction(fn: FunctionRecord): Promise<void> {
    await Promise.all(this.#others().map((s) => s.registerFunction(fn)));
    await this.#shard(HOME).registerFunction(fn);
  }

  getFunction(id: string): Promise<FunctionRecord | undefined> {
    return this.#shard(HOME).getFunction(id);
  }

  listFunctions(): Promise<FunctionRecord[]> {
    return this.#shard(HOME).listFunctions();
  }

  async deleteFunction(id: string): Promise<{ cancelled: string[] } | undefined> {
    const others = await Promise.all(this.#others().map((s) => s.deleteFunction(id)));
    const home = await this.#shard(HOME).deleteFunction(id);
    if (!home && others.every((r) => r === undefined)) return undefined;
    return { cancelled: [...others, home].flatMap((r) => r?.cancelled ?? []) };
  }

  async enqueue(tasks: readonly NewTask[]): Promise<EnqueueResult> {
    const groups = this.#byShard(tasks, (t) => t.id);
    const duplicates = new Map<number, string>();
    const stored: { shard: number; tasks: NewTask[]; result: EnqueueResult }[] = [];
    try {
      for (const [shard, group] of groups) {
        await this.#proxyDependencies(shard, group.items);
        const result = await this.#shard(shard).enqueue(group.items);
        stored.push({ shard, tasks: group.items, result });
        for (const [i, id] of result.duplicates) duplicates.set(group.at[i] ?? -1, id);
      }
    } catch (error) {
      // All or nothing, as on one Redis: take back what other shards stored.
      await Promise.all(
        stored.map((s) => this.#shard(s.shard).discardStored(s.tasks, s.result)),
      ).catch(() => {});
      throw error;
    }
    return { duplicates };
  }

  async enqueueAndClaim(
    tasks: readonly NewTask[],
    max: number,
    owner: string,
    leaseMs: number,
    filter?: ClaimFilter,
  ): Promise<ClaimResult & EnqueueResult> {
    const groups = this.#byShard(tasks, (t) => t.id);
    const only = groups.size === 1 ? [...groups.keys()][0] : undefined;
    if (only === undefined) {
      const { duplicates } = await this.enqueue(tasks);
      return { duplicates, ...(await this.claim(max, owner, leaseMs, filter)) };
    }
    await this.#proxyDependencies(only, tasks);
    return this.#claims.enqueueAndClaim(only, tasks, max, owner, leaseMs, filter);
  }

  /** Across the shards, priorities in order (shard-claims.ts). */
  claim(max: number, owner: string, leaseMs: number, filter?: ClaimFilter): Promise<ClaimResult> {
    return this.#claims.claim(max, owner, leaseMs, filter);
  }

  async complete(outcomes: readonly TaskOutcome[]): Promise<string[]> {
    // An end may release dependents or free a limited slot: those shards are worth a look.
    const parts = await this.#eachShard(
      outcomes,
      (o) => o.id,
      (s, part, shard) => {
        this.#claims.queued(shard, 0);
        return s.complete(part);
      },
    );
    return parts.flat();
  }

  async requeue(tasks: readonly LeaseReturn[], maxAttempts: number): Promise<RequeueResult> {
    const parts = await this.#eachShard(
      tasks,
      (t) => t.id,
      (s, part) => s.requeue(part, maxAttempts),
    );
    return {
      requeued: parts.flatMap((p) => p.requeued),
      failed: parts.flatMap((p) => p.failed),
    };
  }

  async release(tasks: readonly LeaseReturn[]): Promise<void> {
    await this.#eachShard(
      tasks,
      (t) => t.id,
      (s, part) => s.release(part),
    );
  }

  async renewLeases(tasks: readonly LeaseReturn[], leaseMs: number): Promise<string[]> {
    const parts = await this.#eachShard(
      tasks,
      (t) => t.id,
      (s, part) => s.renewLeases(part, leaseMs),
    );
    return parts.flat();
  }

  setProgress(id: string, attempt: number, progress: Progress): Promise<boolean> {
    return this.#shardOf(id).setProgress(id, attempt, progress);
  }

  async heartbeat(instanceId: string, ttlMs: number): Promise<void> {
    // Each shard's stale-lease scan asks for the owner's key in its own slot.
    await Promise.all(this.#shards.map((s) => s.heartbeat(instanceId, ttlMs)));
  }

  async staleLeases(now: number, limit: number): Promise<LeaseReturn[]> {
    const per = Math.max(1, Math.ceil(limit / this.shardCount));
    const parts = await Promise.all(this.#shards.map((s) => s.staleLeases(now, per)));
    return parts.flat();
  }

  cancel(id: string): Promise<CancelResult | undefined> {
    // Cancelling a running task of a limited function frees a slot.
    this.#claims.queued(shardOfId(id, this.shardCount), 0);
    return this.#shardOf(id).cancel(id);
  }

  async retryTask(id: string): Promise<RetryResult | undefined> {
    // A retried task whose references never resolved waits for its dependencies again
    // (lua/retry-task.ts), reading their copies in its own shard: those copies may
    // still hold an end the dependency has since left (it was retried too, and may
    // have completed). Refresh them first, as a submit does.
    const shard = shardOfId(id, this.shardCount);
    const task = await this.#shard(shard).getTask(id);
    if (task?.depends_on && (task.status === 'FAILED' || task.status === 'CANCELLED')) {
      await this.#proxyDependencies(shard, [task]);
    }
    return this.#shard(shard).retryTask(id);
  }

  async promoteDue(now: number): Promise<PromoteResult> {
    const parts = await Promise.all(this.#shards.map((s) => s.promoteDue(now)));
    const out: PromoteResult = {
      nextDue: undefined,
      more: false,
      promoted: 0,
      highest: undefined,
      failed: [],
    };
    for (const p of parts) {
      if (p.nextDue !== undefined && (out.nextDue === undefined || p.nextDue < out.nextDue)) {
        out.nextDue = p.nextDue;
      }
      out.more ||= p.more;
      out.promoted += p.promoted;
      if (p.highest !== undefined) out.highest = Math.max(out.highest ?? p.highest, p.highest);
      out.failed.push(...p.failed);
    }
    return out;
  }

  /** Every shard's listing at once, newest first (shard-listing.ts). */
  listTasks(query: TaskQuery): Promise<TaskPage> {
    return listAcrossShards(this.#shards, query, (ids) => this.getTasks(ids));
  }

  async trimIndexes(): Promise<{ removed: number; more: boolean }> {
    const parts = await Promise.all(this.#shards.map((s) => s.trimIndexes()));
    return {
      removed: parts.reduce((sum, p) => sum + p.removed, 0),
      more: parts.some((p) => p.more),
    };
  }

  getTask(id: string): Promise<TaskRecord | undefined> {
    return this.#shardOf(id).getTask(id);
  }

  getTasks(ids: readonly string[]): Promise<(TaskRecord | undefined)[]> {
    return this.#inOrder(ids, (s, part) => s.getTasks(part));
  }

  taskOwners(ids: readonly string[]): Promise<(TaskOwner | undefined)[]> {
    return this.#inOrder(ids, (s, part) => s.taskOwners(part));
  }

  async queueDepth(): Promise<number> {
    const depths = await Promise.all(this.#shards.map((s) => s.queueDepth()));
    return depths.reduce((sum, d) => sum + d, 0);
  }

  async queuedByPriority(): Promise<PriorityCount[]> {
    const counts = new Map<number, number>();
    for (const part of await Promise.all(this.#shards.map((s) => s.queuedByPriority()))) {
      for (const { priority, queued } of part) {
        counts.set(priority, (counts.get(priority) ?? 0) + queued);
      }
    }
    return [...counts]
      .sort((a, b) => b[0] - a[0])
      .map(([priority, queued]) => ({ priority, queued }));
  }

  async ping(): Promise<void> {
    await Promise.all(this.#shards.map((s) => s.ping()));
  }

  subscribe(listener: StoreListener): () => void {
    return this.#events.add(listener);
  }

  async close(): Promise<void> {
    this.#relay.stop();
    this.#events.clear();
    await Promise.all(this.#shards.map((s) => s.close()));
    await this.#link.close();
  }

  /**
   * The shard count is part of every task id's meaning: a server started with
   * another count would look for tasks in the wrong shards. The first server
   * writes it (under a tag of its own, the same for any count); the others must agree.
   */
  async #checkShardCount(): Promise<void> {
    const key = `${this.#prefix}{shards}`;
    const client = this.#link.client;
    await client.set(key, String(this.shardCount), { NX: true });
    const stored = await client.get(key);
    if (stored !== null && stored !== String(this.shardCount)) {
      throw new ConfigError(
        `the cluster holds taskgrid data under prefix ${this.#prefix} made with --shards ${stored}; start every server with --shards ${stored}`,
      );
    }
  }

  /** Copies of the dependencies that live in other shards, before `tasks` go to `shard`. */
  async #proxyDependencies(
    shard: number,
    tasks: readonly { depends_on?: string[] | undefined }[],
  ): Promise<void> {
    const remote = new Set<string>();
    for (const t of tasks) {
      for (const dep of t.depends_on ?? []) {
        if (shardOfId(dep, this.shardCount) !== shard) remote.add(dep);
      }
    }
    if (remote.size > 0) await this.#relay.proxy(shard, [...remote]);
  }

  #shard(s: number): RedisStore {
    const shard = this.#shards[s];
    if (!shard) throw new Error(`no shard ${s}`);
    return shard;
  }

  #shardOf(id: string): RedisStore {
    return this.#shard(shardOfId(id, this.shardCount));
  }

  #others(): RedisStore[] {
    return this.#shards.filter((_, i) => i !== HOME);
  }

  /** Items grouped by shard, each group with the positions its items had. */
  #byShard<T>(
    items: readonly T[],
    idOf: (item: T) => string,
  ): Map<number, { items: T[]; at: number[] }> {
    const groups = new Map<number, { items: T[]; at: number[] }>();
    items.forEach((item, i) => {
      const shard = shardOfId(idOf(item), this.shardCount);
      let group = groups.get(shard);
      if (!group) {
        group = { items: [], at: [] };
        groups.set(shard, group);
      }
      group.items.push(item);
      group.at.push(i);
    });
    return groups;
  }

  /** `run` on each shard with its part of `items`, all at once. */
  #eachShard<T, R>(
    items: readonly T[],
    idOf: (item: T) => string,
    run: (shard: RedisStore, part: T[], index: number) => Promise<R>,
  ): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    const groups = this.#byShard(items, idOf);
    return Promise.all([...groups].map(([s, g]) => run(this.#shard(s), g.items, s)));
  }

  /** Per-id answers from every shard, back in the order of `ids`. */
  async #inOrder<R>(
    ids: readonly string[],
    read: (shard: RedisStore, part: string[]) => Promise<R[]>,
  ): Promise<R[]> {
    const groups = this.#byShard(ids, (id) => id);
    const out = new Array<R>(ids.length);
    await Promise.all(
      [...groups].map(async ([s, g]) => {
        const answers = await read(this.#shard(s), g.items);
        g.at.forEach((position, i) => {
          out[position] = answers[i] as R;
        });
      }),
    );
    return out;
  }
}
