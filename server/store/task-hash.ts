/**
 * The stored shape of a task (a Redis hash: all strings) and the one pair of
 * converters between it and the domain shape, as bullmq's `asJSON` /
 * `fromJSON`: the enqueue scripts store what `taskToHash` writes, and every
 * read goes through `taskFromHash`, so nothing past the Redis boundary sees a
 * raw string, and a hash of the wrong shape is an error naming the field.
 */

import { TASK_STATUSES } from '../../shared/types.js';
import { HashReader } from './redis-reply.js';
import type { TaskRecord } from './task-store.js';

/** Field names; the Lua scripts that change one field at a time use the same names. */
export const F = {
  fn: 'fn',
  args: 'args',
  status: 'status',
  attempts: 'attempts',
  timeout: 'timeout',
  created: 'created',
  started: 'started',
  finished: 'finished',
  runMs: 'run_ms',
  result: 'result',
  owner: 'owner',
} as const;

type Field = (typeof F)[keyof typeof F];

/**
 * A task as Redis stores it: every field a string, absent when unset. The
 * scripts keep two more fields of their own that are not part of the record:
 * `released` (leases handed back without counting against the task) and
 * `acked` (a repeated idempotency key made the task's id known to a client).
 */
export type TaskHash = Partial<Record<Field, string>>;

export function taskToHash(task: TaskRecord): TaskHash {
  const raw: TaskHash = {
    [F.fn]: task.function_id,
    [F.args]: task.args,
    [F.status]: task.status,
    [F.attempts]: String(task.attempts),
    [F.timeout]: String(task.timeout_ms),
    [F.created]: String(task.created_at),
  };
  if (task.started_at !== undefined) raw[F.started] = String(task.started_at);
  if (task.finished_at !== undefined) raw[F.finished] = String(task.finished_at);
  if (task.run_ms !== undefined) raw[F.runMs] = String(task.run_ms);
  if (task.result !== undefined) raw[F.result] = task.result;
  if (task.owner !== undefined) raw[F.owner] = task.owner;
  return raw;
}

/** Undefined when the hash is empty (no such task, or it expired). Throws ReplyError. */
export function taskFromHash(id: string, raw: unknown): TaskRecord | undefined {
  const read = HashReader.of(raw, `task ${id}`);
  if (!read) return undefined;
  return {
    id,
    function_id: read.text(F.fn),
    status: read.oneOf(F.status, TASK_STATUSES),
    args: read.text(F.args),
    result: read.optionalText(F.result),
    attempts: read.int(F.attempts),
    timeout_ms: read.int(F.timeout),
    created_at: read.int(F.created),
    started_at: read.optionalInt(F.started),
    finished_at: read.optionalInt(F.finished),
    run_ms: read.optionalNumber(F.runMs),
    owner: read.optionalText(F.owner),
  };
}

/** A hash as the flat `field, value, ...` list that HSET takes in a script. */
export function hashFields(raw: TaskHash): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(raw)) {
    if (value !== undefined) out.push(field, value);
  }
  return out;
}
