/**
 * Fires schedules: one timer per server, armed for the earliest next_run_at
 * in the store. When it goes off, every due schedule is advanced by
 * compare-and-set (ScheduleStore.advance) and only the server whose
 * compare-and-set wins submits the slot's task, under the idempotency key
 * `schedule:<id>:<slot>` as a second guard. So each slot fires once across
 * all servers on one store, however many see it due.
 *
 * A slot missed while no server ran fires once when one comes back: the
 * stored next_run_at is the one slot fired, and the next is computed from
 * now, not from the missed slot. A server that dies after winning a slot and
 * before storing its task leaves a fire lease behind; when it runs out,
 * another server takes the fire over and submits it under the same key.
 *
 * Adds and deletes on any server wake every scheduler (ScheduleStore.onChange)
 * to re-arm; a timer never waits longer than MAX_TIMER_MS, so a missed wake
 * costs at most that.
 */

import type { Logger } from 'pino';
import { NotFoundError, UnavailableError, UnknownOutcomeError } from '../../shared/errors.js';
import type { OpenFire, ScheduleRecord, ScheduleStore } from '../store/schedule-store.js';
import { Cron, DEFAULT_TIMEZONE } from './cron.js';

/** Longest a timer waits before the scheduler looks at the store again. */
const MAX_TIMER_MS = 60_000;
/** The soonest a pass that did nothing looks again. */
const IDLE_REPASS_MS = 20;
/** After a store failure, the next look. */
const RETRY_MS = 1_000;
/** Due schedules read per round trip. */
const DUE_BATCH = 100;
/** Tries of a won slot's submit while the store is away (same idempotency key each time). */
const SUBMIT_TRIES = 5;
/**
 * How long a server that won a slot has to store its task before another
 * takes the fire over: longer than the submit's tries with their timeouts.
 */
export const DEFAULT_FIRE_LEASE_MS = 30_000;
/** A stored cron this version cannot read is looked at again this much later, not every pass. */
const UNREADABLE_RETRY_MS = 86_400_000;

/** Submits the task of one fire; resolves with its id. */
export type FireSubmit = (
  schedule: ScheduleRecord,
  options: { idempotencyKey: string },
) => Promise<string>;

export interface SchedulerDeps {
  schedules: ScheduleStore;
  submit: FireSubmit;
  /** Store events that may have been missed (Redis reconnected): returns an unsubscribe. */
  onResync?: (listener: () => void) => () => void;
  log: Logger;
  /** DEFAULT_FIRE_LEASE_MS unless a test wants takeovers sooner. */
  fireLeaseMs?: number;
}

export function fireKey(scheduleId: string, slot: number): string {
  return `schedule:${scheduleId}:${slot}`;
}

export class Scheduler {
  readonly #schedules: ScheduleStore;
  readonly #submit: FireSubmit;
  readonly #onResync: SchedulerDeps['onResync'];
  readonly #log: Logger;
  readonly #fireLeaseMs: number;
  readonly #unsubscribe: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The pass running now, if any. */
  #pass: Promise<void> | undefined;
  /** A wake came during a pass: run another when it ends. */
  #again = false;
  #started = false;
  #stopped = false;
  /** The last pass failed: later failures of the same outage are not logged again. */
  #failing = false;

  constructor(deps: SchedulerDeps) {
    this.#schedules = deps.schedules;
    this.#submit = deps.submit;
    this.#onResync = deps.onResync;
    this.#log = deps.log;
    this.#fireLeaseMs = deps.fireLeaseMs ?? DEFAULT_FIRE_LEASE_MS;
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#unsubscribe.push(this.#schedules.onChange(() => this.wake()));
    if (this.#onResync) this.#unsubscribe.push(this.#onResync(() => this.wake()));
    this.wake();
  }

  /** Looks at the store now (a schedule was added or deleted, or events were missed). */
  wake(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#pass) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pass = this.#run().finally(() => {
      this.#pass = undefined;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  /** Stops the timer and waits for a pass under way. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.#pass;
  }

  /** Fires what is due, takes over stalled fires, then arms the timer for what comes next. */
  async #run(): Promise<void> {
    try {
      let worked = false;
      for (;;) {
        const due = await this.#schedules.due(Date.now(), DUE_BATCH);
        for (const schedule of due) {
          if (this.#stopped) return;
          await this.#fire(schedule);
        }
        worked ||= due.length > 0;
        if (due.length < DUE_BATCH) break;
      }
      const stalled = await this.#schedules.stalled(Date.now(), DUE_BATCH);
      for (const fire of stalled) {
        if (this.#stopped) return;
        await this.#takeOver(fire);
      }
      worked ||= stalled.length > 0;
      const earliest = await this.#schedules.earliest();
      const wait = earliest === undefined ? MAX_TIMER_MS : earliest - Date.now();
      // Something past due that this pass found nothing to do for (it fell due just now, or
      // the store is inconsistent): look again soon, never in a busy loop.
      this.#arm(worked ? wait : Math.max(wait, IDLE_REPASS_MS));
      if (this.#failing) this.#log.info('schedules: the store answers again');
      this.#failing = false;
    } catch (error) {
      // Once per outage: a pass is tried every RETRY_MS while it lasts.
      if (!this.#failing) {
        this.#log.warn({ err: (error as Error).message }, 'schedules: store failed; retrying');
      }
      this.#failing = true;
      this.#arm(RETRY_MS);
    }
  }

  #arm(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    // The scheduler alone never keeps a process alive.
    this.#timer.unref();
  }

  /** Claims the schedule's due slot by compare-and-set; the winner submits its task. */
  async #fire(schedule: ScheduleRecord): Promise<void> {
    const slot = schedule.next_run_at;
    const now = Date.now();
    const lease = now + this.#fireLeaseMs;
    let next: number;
    try {
      const cron = Cron.parse(schedule.cron, schedule.timezone ?? DEFAULT_TIMEZONE);
      // From now, not from the slot: slots missed while no server ran fire once, not each.
      next = cron.next(Math.max(now, slot));
    } catch (error) {
      this.#log.error(
        { schedule: schedule.id, err: (error as Error).message },
        'schedules: stored cron unreadable; not fired',
      );
      const later = now + UNREADABLE_RETRY_MS;
      if (await this.#schedules.advance(schedule.id, slot, later, now, lease)) {
        await this.#schedules.finish({ id: schedule.id, slot }, undefined);
      }
      return;
    }
    // Another server won the slot: nothing to do.
    if (!(await this.#schedules.advance(schedule.id, slot, next, now, lease))) return;
    const fire = { id: schedule.id, slot };
    await this.#schedules.finish(fire, await this.#submitFire(schedule, slot));
  }

  /** A fire whose server died before storing its task: submitted again under the same key. */
  async #takeOver(fire: OpenFire): Promise<void> {
    const now = Date.now();
    if (!(await this.#schedules.retake(fire, now, now + this.#fireLeaseMs))) return;
    const schedule = await this.#schedules.get(fire.id);
    this.#log.info({ schedule: fire.id, slot: fire.slot }, 'schedules: taking over a stalled fire');
    const taskId = schedule && (await this.#submitFire(schedule, fire.slot));
    await this.#schedules.finish(fire, taskId);
  }

  /**
   * A won slot's submit, tried again while the store is away. Undefined when
   * it can never go in (the function is gone); rejects when the store stays
   * away, leaving the fire's lease to run out and another try to take it over.
   */
  async #submitFire(schedule: ScheduleRecord, slot: number): Promise<string | undefined> {
    const idempotencyKey = fireKey(schedule.id, slot);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#submit(schedule, { idempotencyKey });
      } catch (error) {
        const transient = error instanceof UnavailableError || error instanceof UnknownOutcomeError;
        if (transient && attempt < SUBMIT_TRIES) {
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
          continue;
        }
        if (transient) throw error;
        const why =
          error instanceof NotFoundError ? 'its function is gone' : (error as Error).message;
        this.#log.warn({ schedule: schedule.id, slot, err: why }, 'schedules: a fire was dropped');
        return undefined;
      }
    }
  }
}
