/**
 * Where schedules are kept: a narrow interface with a Redis implementation
 * (shared by every server on one Redis) and a memory one; one contract suite
 * runs on both (test/schedule-store.test.ts).
 *
 * Exactly-once firing rests on `advance`: a compare-and-set of a schedule's
 * next_run_at. Every server that sees a slot due tries it; only the one whose
 * compare-and-set wins submits the slot's task. The win also takes a lease on
 * the fire, dropped by `finish` once the task is stored: a server that dies
 * between the two leaves the lease to run out, and another server `retake`s
 * the fire and submits it under the same idempotency key (so a fire that was
 * stored after all is not stored twice).
 */

/** A fire won by compare-and-set and not yet finished. */
export interface OpenFire {
  id: string;
  slot: number;
}

export interface ScheduleRecord {
  id: string;
  function_id: string;
  /** The cron text as given (5 fields, or 6 with leading seconds). */
  cron: string;
  /** JSON text of the argument array each fire submits. */
  payload: string;
  /** IANA zone the cron is read in; UTC when absent. */
  timezone?: string | undefined;
  priority?: number | undefined;
  timeout_ms?: number | undefined;
  /** The next slot to fire (ms since epoch). */
  next_run_at: number;
  created_at: number;
  /** When the last fire happened (ms since epoch). */
  last_run_at?: number | undefined;
  /** The task the last fire submitted. */
  last_task_id?: string | undefined;
  /** The tenant whose client created it (its function's); absent for `default` (server/tenants.ts). */
  tenant?: string | undefined;
}

export type ScheduleListener = () => void;

export interface ScheduleStore {
  /** Stores a new schedule and tells every server's listeners. */
  add(schedule: ScheduleRecord): Promise<void>;
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, earliest next_run_at first. */
  list(): Promise<ScheduleRecord[]>;
  /** Removes a schedule and tells every server's listeners; false when there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * The earliest moment something is to be done: the earliest next_run_at,
   * or the end of the earliest fire lease; undefined when there is nothing.
   */
  earliest(): Promise<number | undefined>;
  /** Schedules whose next_run_at is at or before `now`, earliest first, at most `limit`. */
  due(now: number, limit: number): Promise<ScheduleRecord[]>;
  /**
   * Compare-and-set: when the schedule's next_run_at is still `slot`, sets it
   * to `next` and last_run_at to `firedAt`, leases the fire of `slot` until
   * `leaseUntil`, and returns true. False when the schedule is gone or
   * another server advanced it first.
   */
  advance(
    id: string,
    slot: number,
    next: number,
    firedAt: number,
    leaseUntil: number,
  ): Promise<boolean>;
  /** Won fires whose lease ended at or before `now` (their server died or stalled), at most `limit`. */
  stalled(now: number, limit: number): Promise<OpenFire[]>;
  /**
   * Compare-and-set on a stalled fire's lease: true when this caller takes it
   * over until `leaseUntil`. False when another server did first, the fire
   * was finished, or its schedule is gone (the fire is then dropped).
   */
  retake(fire: OpenFire, now: number, leaseUntil: number): Promise<boolean>;
  /** Drops a fire's lease, and records its task when there is one and the schedule still exists. */
  finish(fire: OpenFire, taskId: string | undefined): Promise<void>;
  /** Called when any server adds or deletes a schedule. */
  onChange(listener: ScheduleListener): () => void;
}
