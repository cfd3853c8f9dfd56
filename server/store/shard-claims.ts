/**
 * How a sharded store claims across its shards (sharded-store.ts), and what
 * it knows of them between claims: per claim filter, the shards known to
 * hold nothing for it (until a queue event of theirs comes); per shard, the
 * highest priority it may hold (from queue events and claim replies), so
 * priorities go in order across shards.
 */

import type { ClaimFilter } from './lanes.js';
import type { RedisStore } from './redis-store.js';
import type { ClaimResult, EnqueueResult, NewTask } from './task-store.js';

/** What this needs of a shard. */
export type ClaimingShard = Pick<RedisStore, 'claim' | 'enqueueAndClaim'>;

/** Rounds of one claim at most (each asks the shards of the highest priority left). */
const MAX_CLAIM_ROUNDS = 64;
/** Times one claim asks a shard that gives nothing yet says it has more at that priority. */
const MAX_IDLE_ASKS = 3;

export class ShardClaims {
  readonly #shards: readonly ClaimingShard[];
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
  /** Where the next claim starts (servers start at different shards). */
  #next: number;

  constructor(shards: readonly ClaimingShard[]) {
    this.#shards = shards;
    this.#queuedEpoch = new Array<number>(shards.length).fill(0);
    this.#top = new Array<number>(shards.length).fill(0);
    this.#next = Math.floor(Math.random() * shards.length);
  }

  /** Tasks of `priority` became QUEUED in `shard` (or may have: look again). */
  queued(shard: number, priority: number): void {
    this.#queuedEpoch[shard] = (this.#queuedEpoch[shard] ?? 0) + 1;
    this.#top[shard] = Math.max(this.#top[shard] ?? 0, priority);
    for (const set of this.#empty.values()) set.delete(shard);
  }

  /** Events may have been missed: every shard may hold anything. */
  queuedAll(): void {
    for (let s = 0; s < this.#shards.length; s += 1) this.queued(s, 0);
  }

  /**
   * Stores tasks in `shard` and claims in the same script, taking nothing
   * below what the other shards may hold.
   */
  async enqueueAndClaim(
    shard: number,
    tasks: readonly NewTask[],
    max: number,
    owner: string,
    leaseMs: number,
    filter: ClaimFilter | undefined,
  ): Promise<ClaimResult & EnqueueResult> {
    const empty = this.#emptyFor(filter);
    let floor: number | undefined;
    for (let s = 0; s < this.#shards.length; s += 1) {
      if (s !== shard && !empty.has(s)) floor = Math.max(floor ?? -Infinity, this.#top[s] ?? 0);
    }
    const epoch = this.#queuedEpoch[shard];
    const result = await this.#shard(shard).enqueueAndClaim(
      tasks,
      max,
      owner,
      leaseMs,
      filter,
      floor,
    );
    this.#noteClaimed(filter, shard, result, epoch);
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
    const n = this.#shards.length;
    const out: ClaimResult = { tasks: [], created: [], drained: true };
    const start = this.#next++ % n;
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
    return this.#emptyFor(filter).size === this.#shards.length;
  }

  #shard(s: number): ClaimingShard {
    const shard = this.#shards[s];
    if (!shard) throw new Error(`no shard ${s}`);
    return shard;
  }
}
