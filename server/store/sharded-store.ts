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
import type { ClaimFilter } from './lanes.js';
import { formatShardCursors, parseShardCursors, type ShardCursor } from './list-cursor.js';
import { PRIORITY_MAX } from './lua/claim.js';
import { RedisLink } from './redis-link.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';
import type { ScheduleStore } from './schedule-store.js';
import type { TaskIdEntry } from './script-io.js';
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

/** Rounds of one claim at most (each asks the shards of the highest priority left). */
const MAX_CLAIM_ROUNDS = 64;
/** Times one claim asks a shard that gives nothing yet says it has more at that priority. */
const MAX_IDLE_ASKS = 3;

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
  /** Per claim filter key: the shards known to have nothing for it. */
  readonly #empty = new Map<string, Set<number>>();
  /** Per shard: bumped by each queue event, so a claim that raced one does not mark it empty. */
  readonly #queuedEpoch: number[];
  /**
   * Per shard: the highest priority it may have queued, as its queue events
   * and claims tell. Claims visit the shards highest first, so a task of
   * priority 5 in one shard goes before those of priority 0 in the others.
   */
  readonly #top: number[];
  /** Where the next batch goes and the next claim starts (servers start at different shards). */
  #nextBatch: number;
  #nextClaim: number;

  constructor(options: ShardedStoreOptions) {
    const { shards } = options;
    this.shardCount = shards;
    this.#nextBatch = Math.floor(Math.random() * shards);
    this.#nextClaim = Math.floor(Math.random() * shards);
    this.#prefix = options.prefix;
    this.keyPrefix = options.prefix;
    this.#queuedEpoch = new Array<number>(shards).fill(0);
    this.#top = new Array<number>(shards).fill(0);
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
    for (let s = 0; s < shards; s += 1) {
      const shard = new RedisStore({
        ...defined,
        link: this.#link,
        prefix: `${options.prefix}{${shardTag(s, shards)}}:`,
        instanceId: options.instanceId,
        onOutbox: () => this.#relay.poke(s),
      });
      shard.subscribe((event) => {
        // Unknown (tasks handed back here): this shard is asked first until a claim says.
        if (event.type === 'queued') this.#queued(s, event.priority ?? PRIORITY_MAX);
        else if (event.type === 'resync') {
          this.#queuedAll();
          return; // one resync per lost link, not one per shard: see connect
        }
        this.#events.emit(event);
      });
      this.#shards.push(shard);
    }
    this.#link.onResync(() => this.#events.emit({ type: 'resync' }));
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
    // The claim in the same script takes nothing below what other shards may hold.
    const empty = this.#emptyFor(filter);
    let floor: number | undefined;
    for (let s = 0; s < this.shardCount; s += 1) {
      if (s !== only && !empty.has(s)) floor = Math.max(floor ?? -Infinity, this.#top[s] ?? 0);
    }
    const epoch = this.#queuedEpoch[only];
    const result = await this.#shard(only).enqueueAndClaim(
      tasks,
      max,
      owner,
      leaseMs,
      filter,
      floor,
    );
    this.#noteClaimed(filter, only, result, epoch);
    return { ...result, drained: this.#allEmpty(filter) };
  }

  /**
   * Takes from the shards that may have something for `filter`, in rounds:
   * each round asks the shards that may hold the highest priority left, for
   * that priority only (a floor), so priorities go in order across shards;
   * each claim's reply says what its shard has left. `max` is split evenly
   * over the shards of a round and claimed from all at once, so each shard's
   * fair share across lanes holds for the whole claim.
   */
  async claim(
    max: number,
    owner: string,
    leaseMs: number,
    filter?: ClaimFilter,
  ): Promise<ClaimResult> {
    const n = this.shardCount;
    const out: ClaimResult = { tasks: [], created: [], drained: true };
    const start = this.#nextClaim++ % n;
    // Shards this claim is done with though they say they hold more (see below).
    const passed = new Set<number>();
    const idle = new Map<number, number>();
    for (let round = 0; round < MAX_CLAIM_ROUNDS && out.tasks.length < max; round += 1) {
      const empty = this.#emptyFor(filter);
      const open: number[] = [];
      for (let k = 0; k < n; k += 1) {
        const s = (start + k) % n;
        if (!empty.has(s) && !passed.has(s)) open.push(s);
      }
      if (open.length === 0) break;
      const top = Math.max(...open.map((s) => this.#top[s] ?? 0));
      const level = open.filter((s) => (this.#top[s] ?? 0) === top);
      const left = max - out.tasks.length;
      const asked = level.slice(0, left);
      const base = Math.floor(left / asked.length);
      const extra = left % asked.length;
      const results = await Promise.all(
        asked.map(async (s, i) => {
          const quota = base + (i < extra ? 1 : 0);
          const epoch = this.#queuedEpoch[s];
          const got = await this.#shard(s).claim(quota, owner, leaseMs, filter, top);
          this.#noteClaimed(filter, s, got, epoch);
          return got;
        }),
      );
      results.forEach((got, i) => {
        out.tasks.push(...got.tasks);
        out.created.push(...got.created);
        const s = asked[i];
        // Nothing, yet more at this priority (a task that failed its deadline at claim
        // took a place, or a lane is at its limit): a later claim asks again.
        if (s === undefined || got.tasks.length > 0 || got.drained || got.top !== top) return;
        const times = (idle.get(s) ?? 0) + 1;
        idle.set(s, times);
        if (times >= MAX_IDLE_ASKS) passed.add(s);
      });
    }
    out.drained = this.#allEmpty(filter);
    return out;
  }

  async complete(outcomes: readonly TaskOutcome[]): Promise<string[]> {
    // An end may release dependents or free a limited slot: those shards are worth a look.
    const parts = await this.#eachShard(
      outcomes,
      (o) => o.id,
      (s, part, shard) => {
        this.#queued(shard, 0);
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
    this.#queued(shardOfId(id, this.shardCount), 0);
    return this.#shardOf(id).cancel(id);
  }

  retryTask(id: string): Promise<RetryResult | undefined> {
    return this.#shardOf(id).retryTask(id);
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

  /**
   * Each shard's next entries below its own cursor, merged newest first (by
   * submit time); a shard's cursor moves past what this page took from it.
   */
  async listTasks(query: TaskQuery): Promise<TaskPage> {
    const cursors = parseShardCursors(query.cursor, this.shardCount);
    const pages = await Promise.all(
      this.#shards.map((s, i) => {
        const at = cursors[i] ?? 'done';
        if (at === 'done') return { entries: [], cursor: undefined };
        return s.listTaskIds({ ...query, cursor: at === 'start' ? undefined : at });
      }),
    );
    const merged: (TaskIdEntry & { shard: number })[] = [];
    pages.forEach((p, shard) => {
      for (const e of p.entries) merged.push({ ...e, shard });
    });
    merged.sort((a, b) => b.created - a.created || b.shard - a.shard || b.seq - a.seq);
    const taken = merged.slice(0, query.limit);
    const next: ShardCursor[] = cursors.map((c, shard) => {
      if (c === 'done') return 'done';
      const page = pages[shard];
      const mine = taken.filter((e) => e.shard === shard);
      const all = page?.entries.length ?? 0;
      // Every entry of its page was taken: the shard continues where its scan stopped.
      if (mine.length === all) return page?.cursor ?? 'done';
      const last = mine[mine.length - 1];
      return last ? String(last.seq) : c;
    });
    const records = await this.getTasks(taken.map((e) => e.id));
    const tasks: TaskRecord[] = [];
    for (const record of records) if (record) tasks.push(record);
    const cursor = formatShardCursors(next);
    return cursor === undefined ? { tasks } : { tasks, next_cursor: cursor };
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
  async #proxyDependencies(shard: number, tasks: readonly NewTask[]): Promise<void> {
    const remote = new Set<string>();
    for (const t of tasks) {
      for (const dep of t.depends_on ?? []) {
        if (shardOfId(dep, this.shardCount) !== shard) remote.add(dep);
      }
    }
    if (remote.size > 0) await this.#relay.proxy(shard, [...remote]);
  }

  #queued(shard: number, priority: number): void {
    this.#queuedEpoch[shard] = (this.#queuedEpoch[shard] ?? 0) + 1;
    this.#top[shard] = Math.max(this.#top[shard] ?? 0, priority);
    for (const set of this.#empty.values()) set.delete(shard);
  }

  #queuedAll(): void {
    for (let s = 0; s < this.shardCount; s += 1) this.#queued(s, 0);
  }

  #emptyFor(filter: ClaimFilter | undefined): Set<number> {
    const key = filter?.key ?? '';
    let set = this.#empty.get(key);
    if (!set) {
      set = new Set();
      this.#empty.set(key, set);
    }
    return set;
  }

  /** What a claim from `shard` says of it: whether anything is left, and its highest priority. */
  #noteClaimed(
    filter: ClaimFilter | undefined,
    shard: number,
    claimed: ClaimResult,
    epoch: number | undefined,
  ): void {
    // A queue event while the claim ran may be for tasks it did not see.
    if (this.#queuedEpoch[shard] !== epoch) return;
    if (claimed.drained) {
      this.#emptyFor(filter).add(shard);
      this.#top[shard] = 0;
      return;
    }
    const last = claimed.tasks[claimed.tasks.length - 1];
    if (claimed.top !== undefined) this.#top[shard] = claimed.top;
    else if (last) this.#top[shard] = last.priority ?? 0;
  }

  #allEmpty(filter: ClaimFilter | undefined): boolean {
    return this.#emptyFor(filter).size === this.shardCount;
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
