/**
 * Schedules in Redis, shared by every server on one Redis and prefix: a HASH
 * per schedule (schedule-hash.ts), a ZSET of ids by next_run_at and a ZSET of
 * open fires by lease end, so the earliest and the due ones are O(log n) reads. Adds and deletes publish
 * `<instance> s` on the events channel; RedisStore passes those from other
 * servers to `notify`, so each server's scheduler re-reads its next timer.
 */

import { SCHEDULE_ADVANCE_LUA, SCHEDULE_FINISH_LUA, SCHEDULE_RETAKE_LUA } from './lua/schedule.js';
import type { RedisKeys } from './redis-keys.js';
import {
  type RedisClient,
  type RedisLink,
  type Script,
  luaScript as script,
} from './redis-link.js';
import { integer, ReplyError, stringArray } from './redis-reply.js';
import {
  fireFromMember,
  fireMember,
  SF,
  scheduleFromHash,
  scheduleToHash,
} from './schedule-hash.js';
import type {
  OpenFire,
  ScheduleListener,
  ScheduleRecord,
  ScheduleStore,
} from './schedule-store.js';

export interface RedisScheduleStoreDeps {
  link: RedisLink;
  keys: RedisKeys;
  instanceId: string;
  /** Runs a command as the task store does: bounded in time, connection trouble as UnavailableError. */
  call: <T>(run: () => Promise<T>) => Promise<T>;
}

const ADVANCE = script(SCHEDULE_ADVANCE_LUA);
const RETAKE = script(SCHEDULE_RETAKE_LUA);
const FINISH = script(SCHEDULE_FINISH_LUA);

export class RedisScheduleStore implements ScheduleStore {
  readonly #link: RedisLink;
  readonly #client: RedisClient;
  readonly #keys: RedisKeys;
  readonly #instanceId: string;
  readonly #call: <T>(run: () => Promise<T>) => Promise<T>;
  readonly #listeners = new Set<ScheduleListener>();

  constructor(deps: RedisScheduleStoreDeps) {
    this.#link = deps.link;
    this.#client = deps.link.client;
    this.#keys = deps.keys;
    this.#instanceId = deps.instanceId;
    this.#call = deps.call;
  }

  async add(schedule: ScheduleRecord): Promise<void> {
    await this.#call(() =>
      this.#client
        .multi()
        .hSet(this.#keys.schedule(schedule.id), scheduleToHash(schedule))
        .zAdd(this.#keys.schedules, { score: schedule.next_run_at, value: schedule.id })
        .exec(),
    );
    await this.#announce();
    this.notify();
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const raw = await this.#call(() => this.#client.hGetAll(this.#keys.schedule(id)));
    return scheduleFromHash(id, raw);
  }

  async list(): Promise<ScheduleRecord[]> {
    const ids = stringArray(
      await this.#call(() => this.#client.zRange(this.#keys.schedules, 0, -1)),
      'ZRANGE schedules',
    );
    return this.#read(ids);
  }

  async delete(id: string): Promise<boolean> {
    // Published whether or not it existed: a needless re-read elsewhere is harmless.
    const replies = await this.#call(() =>
      this.#client.multi().del(this.#keys.schedule(id)).zRem(this.#keys.schedules, id).exec(),
    );
    await this.#announce();
    const deleted = integer(replies[0], 'DEL schedule') > 0;
    if (deleted) this.notify();
    return deleted;
  }

  async earliest(): Promise<number | undefined> {
    const first = (key: string) => this.#call(() => this.#client.zRangeWithScores(key, 0, 0));
    const [runs, leases] = await Promise.all([
      first(this.#keys.schedules),
      first(this.#keys.scheduleFires),
    ]);
    const times = [...runs, ...leases].map((x) => integer(Number(x.score), 'ZRANGE WITHSCORES'));
    return times.length === 0 ? undefined : Math.min(...times);
  }

  async due(now: number, limit: number): Promise<ScheduleRecord[]> {
    const ids = await this.#byScore(this.#keys.schedules, now, limit, 'due schedules');
    const found = await this.#read(ids);
    if (found.length < ids.length) {
      // An id without its hash (adds and deletes change both atomically, so only something
      // outside taskgrid does this): drop it, or it would stay due forever.
      const known = new Set(found.map((s) => s.id));
      const orphans = ids.filter((id) => !known.has(id));
      await this.#call(() => this.#client.zRem(this.#keys.schedules, orphans));
    }
    return found;
  }

  async advance(
    id: string,
    slot: number,
    next: number,
    firedAt: number,
    leaseUntil: number,
  ): Promise<boolean> {
    const raw = await this.#script(
      ADVANCE,
      [this.#keys.schedule(id), this.#keys.schedules, this.#keys.scheduleFires],
      [
        id,
        String(slot),
        String(next),
        String(firedAt),
        SF.next,
        SF.lastRun,
        String(leaseUntil),
        fireMember({ id, slot }),
      ],
    );
    return integer(raw, 'schedule-advance') === 1;
  }

  async stalled(now: number, limit: number): Promise<OpenFire[]> {
    const members = await this.#byScore(this.#keys.scheduleFires, now, limit, 'stalled fires');
    return members.map(fireFromMember);
  }

  async retake(fire: OpenFire, now: number, leaseUntil: number): Promise<boolean> {
    const raw = await this.#script(
      RETAKE,
      [this.#keys.schedule(fire.id), this.#keys.scheduleFires],
      [fireMember(fire), String(now), String(leaseUntil), SF.next],
    );
    return integer(raw, 'schedule-retake') === 1;
  }

  async finish(fire: OpenFire, taskId: string | undefined): Promise<void> {
    const raw = await this.#script(
      FINISH,
      [this.#keys.schedule(fire.id), this.#keys.scheduleFires],
      [fireMember(fire), SF.next, SF.lastTask, taskId ?? ''],
    );
    integer(raw, 'schedule-finish');
  }

  onChange(listener: ScheduleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A schedule was added or deleted (here, or on another server: RedisStore passes those on). */
  notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Tells the other servers that the schedules changed (on the shard's own channel on a cluster). */
  async #announce(): Promise<void> {
    const message = `${this.#instanceId} s`;
    await this.#call(() =>
      this.#link.sharded
        ? this.#client.sPublish(this.#keys.events, message)
        : this.#client.publish(this.#keys.events, message),
    );
  }

  /** Members of a ZSET scored at or before `max`, lowest first, at most `limit`. */
  async #byScore(key: string, max: number, limit: number, what: string): Promise<string[]> {
    const raw = await this.#call(() =>
      this.#client.zRange(key, '-inf', max, { BY: 'SCORE', LIMIT: { offset: 0, count: limit } }),
    );
    return stringArray(raw, `ZRANGE ${what}`);
  }

  /** The schedules of `ids` in one round trip, in order; ids deleted meanwhile are left out. */
  async #read(ids: readonly string[]): Promise<ScheduleRecord[]> {
    if (ids.length === 0) return [];
    const replies = await this.#call(() => {
      const batch = this.#client.multi();
      for (const id of ids) batch.hGetAll(this.#keys.schedule(id));
      return batch.execAsPipeline();
    });
    if (replies.length !== ids.length) {
      throw new ReplyError('schedules', `${replies.length} replies for ${ids.length} ids`);
    }
    const out: ScheduleRecord[] = [];
    ids.forEach((id, i) => {
      const record = scheduleFromHash(id, replies[i]);
      if (record) out.push(record);
    });
    return out;
  }

  async #script(s: Script, keys: string[], args: string[]): Promise<unknown> {
    return this.#call(() => this.#link.run(s, keys, args));
  }
}
