/**
 * Task and function records as the SDK hands them out (camelCase, results
 * parsed), and the one converter from each wire reply (snake_case, checked
 * against the server's own schemas in shared/task-info.ts and
 * shared/function-info.ts). A reply that does not fit is a ProtocolError:
 * past this file nothing from the server is trusted unchecked.
 */

import { Type } from '@sinclair/typebox';
import { type ErrorData, ProtocolError } from '../shared/errors.js';
import {
  DeleteFunctionReplySchema,
  FunctionDetailSchema,
  type FunctionInfoReply,
  FunctionListSchema,
} from '../shared/function-info.js';
import { deserialize } from '../shared/serialize.js';
import {
  RetryReplySchema,
  TaskInfoSchema,
  TaskPageSchema,
  type TaskSummaryReply,
} from '../shared/task-info.js';
import type { TaskStatus } from '../shared/types.js';
import { compileParser } from '../shared/validate.js';
import type { RetryOptions } from './submit-options.js';

/** The progress a task last reported, as its record keeps it (a `progress` event plus `at`). */
export interface RecordedProgress {
  /** 0…1. */
  value: number;
  note?: string;
  /** When the server received it (ms since epoch). */
  at: number;
}

/** The error of one failed run. */
export interface TaskRunError {
  attempt: number;
  name: string;
  message: string;
}

/** A task as `grid.tasks()` lists it. Times are ms since the epoch. */
export interface TaskInfo {
  id: string;
  functionId: string;
  status: TaskStatus;
  priority: number;
  /** Runs started so far. */
  attempts: number;
  createdAt: number;
  /** When the function began to run in its thread. */
  startedAt?: number;
  finishedAt?: number;
  /** When a WAITING task becomes QUEUED. */
  runAt?: number;
  deadlineAt?: number;
  dependsOn?: string[];
  labels?: string[];
  /** QUEUED with labels no connected worker has: who it waits for. */
  waitingFor?: string;
  progress?: RecordedProgress;
  /** `<server instance>/<worker id>` holding it while RUNNING, or that ran it once finished. */
  worker?: string;
  /** The error of each failed run, oldest first; empty when none failed. */
  errors: TaskRunError[];
}

/** A task as `handle.info()` gives it: the listed record and its outcome. */
export interface TaskDetails extends TaskInfo {
  /** The return value, once COMPLETED. */
  result?: unknown;
  /** What the last run threw, once FAILED. */
  error?: ErrorData;
}

export interface TaskPage {
  tasks: TaskInfo[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export interface FunctionInfo {
  id: string;
  name: string;
  createdAt: number;
  /** Default run-time limit of its tasks. */
  timeoutMs?: number;
  /** Default retry policy of its tasks. */
  retry?: RetryOptions;
  labels?: string[];
  concurrency?: number;
}

export interface FunctionDetails extends FunctionInfo {
  source: string;
}

const replyError = (what: string) => (reason: string) =>
  new ProtocolError(`Unexpected reply to ${what}: ${reason}`);
const ErrorDataSchema = Type.Object({
  name: Type.String(),
  message: Type.String(),
  code: Type.Optional(Type.String()),
  stack: Type.Optional(Type.String()),
});

const parseTaskReply = compileParser(TaskInfoSchema, replyError('GET /task'));
const parseTaskPageReply = compileParser(TaskPageSchema, replyError('GET /tasks'));
const parseErrorData = compileParser(ErrorDataSchema, replyError('GET /task (error data)'));
const parseFunctionListReply = compileParser(FunctionListSchema, replyError('GET /functions'));
const parseFunctionReply = compileParser(FunctionDetailSchema, replyError('GET /function'));
export const parseRetryReply = compileParser(RetryReplySchema, replyError('POST /task/retry'));
export const parseDeleteFunctionReply = compileParser(
  DeleteFunctionReplySchema,
  replyError('DELETE /function'),
);

function taskInfo(wire: TaskSummaryReply): TaskInfo {
  const task: TaskInfo = {
    id: wire.task_id,
    functionId: wire.function_id,
    status: wire.status,
    priority: wire.priority,
    attempts: wire.attempts,
    createdAt: wire.created_at,
    errors: (wire.errors ?? []).map(({ attempt, name, message }) => ({ attempt, name, message })),
  };
  if (wire.started_at !== undefined) task.startedAt = wire.started_at;
  if (wire.finished_at !== undefined) task.finishedAt = wire.finished_at;
  if (wire.run_at !== undefined) task.runAt = wire.run_at;
  if (wire.deadline_at !== undefined) task.deadlineAt = wire.deadline_at;
  if (wire.depends_on !== undefined) task.dependsOn = [...wire.depends_on];
  if (wire.labels !== undefined) task.labels = [...wire.labels];
  if (wire.waiting_for !== undefined) task.waitingFor = wire.waiting_for;
  if (wire.worker !== undefined) task.worker = wire.worker;
  if (wire.progress !== undefined) {
    const { value, note, at } = wire.progress;
    task.progress = note === undefined ? { value, at } : { value, note, at };
  }
  return task;
}

/** GET /task/:id's reply as the SDK gives it. */
export function taskDetails(reply: unknown): TaskDetails {
  const wire = parseTaskReply(reply);
  const task: TaskDetails = taskInfo(wire);
  if (wire.result === undefined) return task;
  if (wire.status === 'COMPLETED') task.result = deserialize(wire.result);
  else if (wire.status === 'FAILED') task.error = parseErrorData(deserialize(wire.result));
  return task;
}

/** GET /tasks's reply as the SDK gives it. */
export function taskPage(reply: unknown): TaskPage {
  const wire = parseTaskPageReply(reply);
  const page: TaskPage = { tasks: wire.tasks.map(taskInfo) };
  if (wire.next_cursor !== undefined) page.nextCursor = wire.next_cursor;
  return page;
}

function functionInfo(wire: FunctionInfoReply): FunctionInfo {
  const fn: FunctionInfo = { id: wire.function_id, name: wire.name, createdAt: wire.created_at };
  if (wire.timeout_ms !== undefined) fn.timeoutMs = wire.timeout_ms;
  if (wire.retry !== undefined) {
    const { max_attempts, backoff, delay_ms, max_delay_ms } = wire.retry;
    fn.retry = { maxAttempts: max_attempts, backoff, delayMs: delay_ms };
    if (max_delay_ms !== undefined) fn.retry.maxDelayMs = max_delay_ms;
  }
  if (wire.labels !== undefined) fn.labels = [...wire.labels];
  if (wire.concurrency !== undefined) fn.concurrency = wire.concurrency;
  return fn;
}

/** GET /functions's reply as the SDK gives it. */
export function functionList(reply: unknown): FunctionInfo[] {
  return parseFunctionListReply(reply).functions.map(functionInfo);
}

/** GET /function/:id's reply as the SDK gives it. */
export function functionDetails(reply: unknown): FunctionDetails {
  const wire = parseFunctionReply(reply);
  return { ...functionInfo(wire), source: wire.source };
}
