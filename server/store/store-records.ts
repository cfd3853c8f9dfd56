/**
 * Records both stores build the same way, so that for the same calls they
 * answer deep-equal records (the store contract suite checks it): a new
 * task's first record, a function's record, and the result of a task that
 * reached the retry cap.
 */

import { DEADLINE_EXCEEDED_VALUE, WorkerLostError } from '../../shared/errors.js';
import type { FunctionRecord, NewTask, TaskRecord } from './task-store.js';

/** The record a submitted task starts as: QUEUED (WAITING when it has a `run_at`), never leased. */
export function queuedTask(task: NewTask): TaskRecord {
  return {
    id: task.id,
    function_id: task.function_id,
    status: task.run_at === undefined ? 'QUEUED' : 'WAITING',
    args: typeof task.args === 'string' ? task.args : task.args.toString('utf8'),
    result: undefined,
    attempts: 0,
    timeout_ms: task.timeout_ms,
    created_at: task.created_at,
    started_at: undefined,
    finished_at: undefined,
    run_ms: undefined,
    owner: undefined,
    priority: task.priority ?? 0,
    run_at: task.run_at,
    deadline_at: task.deadline_at,
    retry: task.retry,
    progress: undefined,
    errors: [],
    lane: task.lane?.id,
    depends_on: task.depends_on,
    // Absent, not undefined, for `default`: records compare deep-equal across stores.
    ...(task.tenant === undefined ? {} : { tenant: task.tenant }),
  };
}

/** A function's record with `timeout_ms` and `retry` present only when it has them (a fresh object). */
export function functionRecord(fn: FunctionRecord): FunctionRecord {
  const { id, name, source, created_at, timeout_ms, retry, labels, concurrency, tenant } = fn;
  const record: FunctionRecord = { id, name, source, created_at };
  if (timeout_ms !== undefined) record.timeout_ms = timeout_ms;
  if (retry !== undefined) record.retry = { ...retry };
  if (labels !== undefined && labels.length > 0) record.labels = [...labels];
  if (concurrency !== undefined) record.concurrency = concurrency;
  if (tenant !== undefined) record.tenant = tenant;
  return record;
}

/**
 * The FAILED result of a task whose holder was lost `losses` times, the retry
 * cap. No stack: it would be the server's, not the task's.
 */
export function workerLostResult(losses: number): string {
  return JSON.stringify(new WorkerLostError(losses).toData());
}

/** The FAILED result of a task whose deadline passed before it started. */
export const DEADLINE_RESULT = DEADLINE_EXCEEDED_VALUE;
