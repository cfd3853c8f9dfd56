/**
 * The stored shape of a schedule (a Redis hash: all strings) and the one pair
 * of converters between it and ScheduleRecord. Every read is parsed here; a
 * hash of the wrong shape is an error naming the field.
 */

import { HashReader, ReplyError, show } from './redis-reply.js';
import type { OpenFire, ScheduleRecord } from './schedule-store.js';

/** Field names; the compare-and-set script gets the ones it touches as ARGV. */
export const SF = {
  fn: 'fn',
  cron: 'cron',
  payload: 'payload',
  timezone: 'tz',
  priority: 'prio',
  timeout: 'timeout',
  next: 'next',
  created: 'created',
  lastRun: 'last_run',
  lastTask: 'last_task',
  /** Absent for `default` (server/tenants.ts). */
  tenant: 'tenant',
} as const;

export type ScheduleHash = Record<string, string>;

export function scheduleToHash(s: ScheduleRecord): ScheduleHash {
  const raw: ScheduleHash = {
    [SF.fn]: s.function_id,
    [SF.cron]: s.cron,
    [SF.payload]: s.payload,
    [SF.next]: String(s.next_run_at),
    [SF.created]: String(s.created_at),
  };
  if (s.timezone !== undefined) raw[SF.timezone] = s.timezone;
  if (s.priority !== undefined) raw[SF.priority] = String(s.priority);
  if (s.timeout_ms !== undefined) raw[SF.timeout] = String(s.timeout_ms);
  if (s.last_run_at !== undefined) raw[SF.lastRun] = String(s.last_run_at);
  if (s.last_task_id !== undefined) raw[SF.lastTask] = s.last_task_id;
  if (s.tenant !== undefined) raw[SF.tenant] = s.tenant;
  return raw;
}

/** Undefined when the hash is empty (no such schedule). Throws ReplyError. */
export function scheduleFromHash(id: string, raw: unknown): ScheduleRecord | undefined {
  const read = HashReader.of(raw, `schedule ${id}`);
  if (!read) return undefined;
  return scheduleRecord({
    id,
    function_id: read.text(SF.fn),
    cron: read.text(SF.cron),
    payload: read.text(SF.payload),
    timezone: read.optionalText(SF.timezone),
    priority: read.optionalInt(SF.priority),
    timeout_ms: read.optionalInt(SF.timeout),
    next_run_at: read.int(SF.next),
    created_at: read.int(SF.created),
    last_run_at: read.optionalInt(SF.lastRun),
    last_task_id: read.optionalText(SF.lastTask),
    tenant: read.optionalText(SF.tenant),
  });
}

/** A copy with absent optional fields left out, so both stores answer deep-equal records. */
export function scheduleRecord(s: ScheduleRecord): ScheduleRecord {
  const out: ScheduleRecord = {
    id: s.id,
    function_id: s.function_id,
    cron: s.cron,
    payload: s.payload,
    next_run_at: s.next_run_at,
    created_at: s.created_at,
  };
  if (s.timezone !== undefined) out.timezone = s.timezone;
  if (s.priority !== undefined) out.priority = s.priority;
  if (s.timeout_ms !== undefined) out.timeout_ms = s.timeout_ms;
  if (s.last_run_at !== undefined) out.last_run_at = s.last_run_at;
  if (s.last_task_id !== undefined) out.last_task_id = s.last_task_id;
  if (s.tenant !== undefined) out.tenant = s.tenant;
  return out;
}

/** A fire as a member of the fire-lease ZSET: `<schedule id>/<slot>`. */
export function fireMember(fire: OpenFire): string {
  return `${fire.id}/${fire.slot}`;
}

export function fireFromMember(member: string): OpenFire {
  const [, id, slot] = /^([^/]+)\/(\d{1,16})$/.exec(member) ?? [];
  if (id === undefined || slot === undefined) {
    throw new ReplyError('schedule fires', `member ${show(member)} is not <id>/<slot>`);
  }
  return { id, slot: Number(slot) };
}
