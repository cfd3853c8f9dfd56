/**
 * Records both stores build the same way, so that for the same calls they
 * answer deep-equal records (the store contract suite checks it): a new
 * task's first record, a function's record, and the result of a task that
 * reached the retry cap.
 */

import { WorkerLostError } from '../../shared/errors.js';
import type { FunctionRecord, NewTask, TaskRecord } from './task-store.js';

/** The record a submitted task starts as: QUEUED, never leased. */
export function queuedTask(task: NewTask): TaskRecord {
  return {
    id: task.id,
    function_id: task.function_id,
    status: 'QUEUED',
    args: task.args,
    result: undefined,
    attempts: 0,
    timeout_ms: task.timeout_ms,
    created_at: task.created_at,
    started_at: undefined,
    finished_at: undefined,
    run_ms: undefined,
    owner: undefined,
  };
}

/** A function's record with `timeout_ms` present only when it has one (a fresh object). */
export function functionRecord(fn: FunctionRecord): FunctionRecord {
  const { id, name, source, created_at, timeout_ms } = fn;
  return timeout_ms === undefined
    ? { id, name, source, created_at }
    : { id, name, source, created_at, timeout_ms };
}

/**
 * The FAILED result of a task whose holder was lost `losses` times, the retry
 * cap. No stack: it would be the server's, not the task's.
 */
export function workerLostResult(losses: number): string {
  return JSON.stringify(new WorkerLostError(losses).toData());
}
