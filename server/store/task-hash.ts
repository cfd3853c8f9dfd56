/**
 * The stored shape of a task (a Redis hash: all strings) and the one pair of
 * converters to and from the domain shape. Reads are parsed here, at the
 * Redis boundary, so nothing past it sees a raw string.
 */

import { TASK_STATUSES, type TaskStatus } from '../../shared/types.js';
import type { TaskRecord } from './task-store.js';

/** Field names, shared with the Lua scripts. */
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
  /** Leases handed back without counting against the task (shutdowns, failed hand-offs). */
  released: 'released',
} as const;

function num(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** A stored status, checked. */
export function taskStatus(text: string | undefined): TaskStatus {
  if (text && (TASK_STATUSES as readonly string[]).includes(text)) return text as TaskStatus;
  throw new Error(`Stored task has an unknown status \`${String(text)}\``);
}

/** Undefined when the hash is empty (no such task, or it expired). */
export function taskFromHash(id: string, raw: Record<string, string>): TaskRecord | undefined {
  if (raw[F.status] === undefined) return undefined;
  return {
    id,
    function_id: raw[F.fn] ?? '',
    status: taskStatus(raw[F.status]),
    args: raw[F.args] ?? '[]',
    result: raw[F.result],
    attempts: num(raw[F.attempts]) ?? 0,
    timeout_ms: num(raw[F.timeout]) ?? 0,
    created_at: num(raw[F.created]) ?? 0,
    started_at: num(raw[F.started]),
    finished_at: num(raw[F.finished]),
    run_ms: num(raw[F.runMs]),
    owner: raw[F.owner] || undefined,
  };
}
