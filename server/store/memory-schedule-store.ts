/**
 * Schedules in memory, for the memory store: one process, so the
 * compare-and-set is a plain comparison (nothing else runs between the read
 * and the write). Same records as the Redis store for the same calls.
 */

import { fireFromMember, fireMember, scheduleRecord } from './schedule-hash.js';
import type {
  OpenFire,
  ScheduleListener,
  ScheduleRecord,
  ScheduleStore,
} from './schedule-store.js';

export class MemoryScheduleStore implements ScheduleStore {
  readonly #schedules = new Map<string, ScheduleRecord>();
  readonly #listeners = new Set<ScheduleListener>();
  /** Open fires (`<id>/<slot>`) → lease end, as Redis keeps them. */
  readonly #fires = new Map<string, number>();

  async add(schedule: ScheduleRecord): Promise<void> {
    this.#schedules.set(schedule.id, scheduleRecord(schedule));
    this.#changed();
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const found = this.#schedules.get(id);
    return found && scheduleRecord(found);
  }

  async list(): Promise<ScheduleRecord[]> {
    return this.#sorted().map(scheduleRecord);
  }

  async delete(id: string): Promise<boolean> {
    const deleted = this.#schedules.delete(id);
    if (deleted) this.#changed();
    return deleted;
  }

  async earliest(): Promise<number | undefined> {
    let min: number | undefined;
    const times = [
      ...[...this.#schedules.values()].map((s) => s.next_run_at),
      ...this.#fires.values(),
    ];
    for (const t of times) if (min === undefined || t < min) min = t;
    return min;
  }

  async due(now: number, limit: number): Promise<ScheduleRecord[]> {
    return this.#sorted()
      .filter((s) => s.next_run_at <= now)
      .slice(0, limit)
      .map(scheduleRecord);
  }

  async advance(
    id: string,
    slot: number,
    next: number,
    firedAt: number,
    leaseUntil: number,
  ): Promise<boolean> {
    const found = this.#schedules.get(id);
    if (!found || found.next_run_at !== slot) return false;
    found.next_run_at = next;
    found.last_run_at = firedAt;
    this.#fires.set(fireMember({ id, slot }), leaseUntil);
    return true;
  }

  async stalled(now: number, limit: number): Promise<OpenFire[]> {
    return [...this.#fires]
      .filter(([, until]) => until <= now)
      .sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .map(([member]) => fireFromMember(member));
  }

  async retake(fire: OpenFire, now: number, leaseUntil: number): Promise<boolean> {
    const member = fireMember(fire);
    const lease = this.#fires.get(member);
    if (lease === undefined || lease > now) return false;
    if (!this.#schedules.has(fire.id)) {
      this.#fires.delete(member);
      return false;
    }
    this.#fires.set(member, leaseUntil);
    return true;
  }

  async finish(fire: OpenFire, taskId: string | undefined): Promise<void> {
    this.#fires.delete(fireMember(fire));
    const found = this.#schedules.get(fire.id);
    if (found && taskId !== undefined) found.last_task_id = taskId;
  }

  onChange(listener: ScheduleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Earliest next_run_at first, then by id, as a Redis sorted set orders them. */
  #sorted(): ScheduleRecord[] {
    return [...this.#schedules.values()].sort(
      (a, b) => a.next_run_at - b.next_run_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
