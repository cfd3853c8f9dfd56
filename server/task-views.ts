/**
 * What the REST API answers for a task and a function: the store's records
 * in the shapes of the "Task lifecycle" table (ARCHITECTURE.md), optional
 * fields present only when they have a value.
 */

import type { FunctionInfoReply } from '../shared/function-info.js';
import type { TaskInfoReply } from '../shared/task-info.js';
import { parseLaneId } from './store/lanes.js';
import { errorSummary } from './store/task-hash.js';
import type { FunctionRecord, TaskRecord } from './store/task-store.js';

/**
 * GET /task/:id (GET /tasks lists the same without `args` and `result`), and a function
 * as GET /functions lists it: the static types of the schemas /openapi.json
 * publishes and the SDK checks replies with, so the three cannot drift apart.
 */
export type TaskDetail = TaskInfoReply;
export type FunctionSummary = FunctionInfoReply;

export function taskDetail(task: TaskRecord, withResult: boolean): TaskDetail {
  const out: TaskDetail = {
    task_id: task.id,
    function_id: task.function_id,
    status: task.status,
    priority: task.priority,
    attempts: task.attempts,
    created_at: task.created_at,
  };
  // When the function began to run in its thread: the store knows when it
  // finished and how long it ran there (a lease taken ahead of time is not a start).
  if (task.finished_at !== undefined && task.run_ms !== undefined && task.attempts > 0) {
    out.started_at = Math.max(task.created_at, task.finished_at - Math.round(task.run_ms));
  }
  if (task.finished_at !== undefined) out.finished_at = task.finished_at;
  if (task.run_at !== undefined) out.run_at = task.run_at;
  if (task.deadline_at !== undefined) out.deadline_at = task.deadline_at;
  const labels = task.lane === undefined ? [] : parseLaneId(task.lane, undefined).labels;
  if (labels.length > 0) out.labels = [...labels];
  if (task.progress !== undefined) out.progress = task.progress;
  if (task.owner !== undefined) out.worker = task.owner;
  const errors = [...task.errors];
  if (task.status === 'FAILED' && task.result !== undefined) {
    errors.push({ attempt: task.attempts, ...errorSummary(task.result) });
  }
  if (errors.length > 0) out.errors = errors;
  if (task.depends_on !== undefined) out.depends_on = task.depends_on;
  if (withResult) out.args = task.args;
  if (withResult && task.result !== undefined) out.result = task.result;
  return out;
}

export function functionSummary(fn: FunctionRecord): FunctionSummary {
  const out: FunctionSummary = { function_id: fn.id, name: fn.name, created_at: fn.created_at };
  if (fn.timeout_ms !== undefined) out.timeout_ms = fn.timeout_ms;
  if (fn.retry !== undefined) out.retry = fn.retry;
  if (fn.labels !== undefined && fn.labels.length > 0) out.labels = fn.labels;
  if (fn.concurrency !== undefined) out.concurrency = fn.concurrency;
  return out;
}
