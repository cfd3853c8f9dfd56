/**
 * The stored shape of a task (a Redis hash: all strings) and the one pair of
 * converters between it and the domain shape, as bullmq's `asJSON` /
 * `fromJSON`: the enqueue scripts store what `taskToHash` writes, and every
 * read goes through `taskFromHash`, so nothing past the Redis boundary sees a
 * raw string, and a hash of the wrong shape is an error naming the field.
 */

import { TASK_STATUSES } from '../../shared/types.js';
import { HashReader, ReplyError } from './redis-reply.js';
import type { Progress, RetryPolicy, TaskRecord } from './task-store.js';

/** Field names; the Lua scripts that change one field at a time use the same names. */
export const F = {
  fn: 'fn',
  /** The argument text, unless it is large: see bulkArgs. */
  args: 'args',
  /**
   * The argument text of a task whose text is BULK_ARGS_BYTES or more
   * (script-io.ts), in place of `args`: written and read by plain commands
   * beside the scripts, so it never becomes a Lua string.
   */
  bulkArgs: 'bulk_args',
  status: 'status',
  attempts: 'attempts',
  timeout: 'timeout',
  created: 'created',
  started: 'started',
  finished: 'finished',
  runMs: 'run_ms',
  result: 'result',
  owner: 'owner',
  /** Absent when 0. */
  priority: 'prio',
  runAt: 'run_at',
  deadline: 'deadline',
  retryMax: 'r_max',
  retryBackoff: 'r_backoff',
  retryDelay: 'r_delay',
  retryMaxDelay: 'r_max_delay',
  /** JSON text of {value, note?, at}. */
  progress: 'progress',
  /** Absent in the default lane. */
  lane: 'lane',
  /** Absent for `default` (server/tenants.ts). */
  tenant: 'tenant',
  /** The ids of `depends_on`, space-separated. */
  dependsOn: 'deps',
} as const;

/**
 * The error of a run that was retried is kept under this head and its
 * attempt number (`e3`); the last run's error is the result.
 */
export const ERROR_HEAD = 'e';

type Field = (typeof F)[keyof typeof F];
type ErrorField = `${typeof ERROR_HEAD}${number}`;

/**
 * A task as Redis stores it: every field a string, absent when unset. The
 * scripts keep more fields of their own that are not part of the record:
 * `released` (leases handed back without counting against the task),
 * `acked` (a repeated idempotency key made the task's id known to a client),
 * and, while a task waits for its dependencies (lua/dependencies.ts), `dref`
 * (where their results go in the arguments) and `dwait` (how many are left);
 * `dependents` marks a task that others wait for.
 */
export type TaskHash = Partial<Record<Field | ErrorField, string>>;

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
  if (task.priority !== 0) raw[F.priority] = String(task.priority);
  if (task.run_at !== undefined) raw[F.runAt] = String(task.run_at);
  if (task.deadline_at !== undefined) raw[F.deadline] = String(task.deadline_at);
  if (task.retry !== undefined) Object.assign(raw, retryToHash(task.retry));
  if (task.progress !== undefined) raw[F.progress] = JSON.stringify(task.progress);
  if (task.lane !== undefined) raw[F.lane] = task.lane;
  if (task.tenant !== undefined) raw[F.tenant] = task.tenant;
  if (task.depends_on !== undefined) raw[F.dependsOn] = task.depends_on.join(' ');
  for (const e of task.errors) {
    raw[`${ERROR_HEAD}${e.attempt}`] = JSON.stringify({ name: e.name, message: e.message });
  }
  return raw;
}

export function retryToHash(retry: RetryPolicy): Record<string, string> {
  const raw: Record<string, string> = {
    [F.retryMax]: String(retry.max_attempts),
    [F.retryBackoff]: retry.backoff,
    [F.retryDelay]: String(retry.delay_ms),
  };
  if (retry.max_delay_ms !== undefined) raw[F.retryMaxDelay] = String(retry.max_delay_ms);
  return raw;
}

const BACKOFFS = ['fixed', 'exponential'] as const;

/** The retry policy kept in a task's or a function's hash; undefined when it has none. */
export function retryFromHash(read: HashReader): RetryPolicy | undefined {
  const max = read.optionalInt(F.retryMax);
  if (max === undefined) return undefined;
  const retry: RetryPolicy = {
    max_attempts: max,
    backoff: read.oneOf(F.retryBackoff, BACKOFFS),
    delay_ms: read.int(F.retryDelay),
  };
  const maxDelay = read.optionalInt(F.retryMaxDelay);
  if (maxDelay !== undefined) retry.max_delay_ms = maxDelay;
  return retry;
}

/** `{name, message}` of an error's JSON text; what is not an object reads as an unnamed error. */
export function errorSummary(text: string): { name: string; message: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const record = typeof data === 'object' && data !== null ? data : {};
  const name = 'name' in record && typeof record.name === 'string' ? record.name : 'Error';
  const message =
    'message' in record && typeof record.message === 'string' ? record.message : String(text);
  return { name, message };
}

/** The progress field's JSON text (also what progress events carry); throws ReplyError. */
export function progressFromText(text: string | undefined, what: string): Progress | undefined {
  if (text === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (
    typeof data !== 'object' ||
    data === null ||
    !('value' in data) ||
    typeof data.value !== 'number' ||
    !('at' in data) ||
    typeof data.at !== 'number'
  ) {
    throw new ReplyError(
      what,
      `field \`${F.progress}\` should be {value, note?, at}, got ${text.slice(0, 80)}`,
    );
  }
  const progress: Progress = { value: data.value, at: data.at };
  if ('note' in data && typeof data.note === 'string') progress.note = data.note;
  return progress;
}

/** Undefined when the hash is empty (no such task, or it expired). Throws ReplyError. */
export function taskFromHash(id: string, raw: unknown): TaskRecord | undefined {
  const read = HashReader.of(raw, `task ${id}`);
  if (!read) return undefined;
  const tenant = read.optionalText(F.tenant);
  const record: TaskRecord = {
    id,
    function_id: read.text(F.fn),
    status: read.oneOf(F.status, TASK_STATUSES),
    args: read.optionalText(F.bulkArgs) ?? read.text(F.args),
    result: read.optionalText(F.result),
    attempts: read.int(F.attempts),
    timeout_ms: read.int(F.timeout),
    created_at: read.int(F.created),
    started_at: read.optionalInt(F.started),
    finished_at: read.optionalInt(F.finished),
    run_ms: read.optionalNumber(F.runMs),
    owner: read.optionalText(F.owner),
    priority: read.optionalInt(F.priority) ?? 0,
    run_at: read.optionalInt(F.runAt),
    deadline_at: read.optionalInt(F.deadline),
    retry: retryFromHash(read),
    progress: progressFromText(read.optionalText(F.progress), `task ${id}`),
    lane: read.optionalText(F.lane),
    depends_on: read.optionalText(F.dependsOn)?.split(' '),
    errors: read
      .withHead(ERROR_HEAD)
      .filter(([attempt]) => /^\d+$/.test(attempt))
      .map(([attempt, text]) => ({ attempt: Number(attempt), ...errorSummary(text) }))
      .sort((a, b) => a.attempt - b.attempt),
  };
  if (tenant !== undefined) record.tenant = tenant;
  return record;
}

/** A hash as the flat `field, value, ...` list that HSET takes in a script. */
export function hashFields(raw: TaskHash): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(raw)) {
    if (value !== undefined) out.push(field, value);
  }
  return out;
}
