/**
 * The binary tasks frame (binary-frame.ts), for workers that ask for it in
 * their hello (`binary_tasks`): each task's argument text follows the head as
 * raw bytes, and the head has `args_bytes` in its place (TasksHead).
 */

import {
  type BinaryFramePlan,
  decodeBinaryFrame,
  encodeBinaryFrame,
  planBinaryFrame,
  textLengths,
} from './binary-frame.js';
import { ProtocolError } from './errors.js';
import { type TasksHead, TasksHeadSchema, type TasksMessage } from './protocol.js';
import type { FunctionSource, TaskAssignment } from './types.js';
import { compileParser } from './validate.js';

const parseHead = compileParser(
  TasksHeadSchema,
  (reason) => new ProtocolError(`Malformed tasks frame head: ${reason}`),
);

export function planTasksFrame(
  tasks: readonly TaskAssignment[],
  functions: readonly FunctionSource[],
): BinaryFramePlan {
  const texts = tasks.map((t) => t.args);
  const now = Date.now();
  const { lengths, total } = textLengths(texts);
  const head: TasksHead = {
    type: 'tasks',
    functions: [...functions],
    tasks: tasks.map((t, i) => {
      const task: TasksHead['tasks'][number] = {
        id: t.id,
        fn: t.fn,
        attempt: t.attempt,
        timeout_ms: t.timeout_ms,
        args_bytes: lengths[i] ?? 0,
      };
      if (t.deadline_at !== undefined) task.start_within_ms = startWithin(t.deadline_at, now);
      return task;
    }),
  };
  return planBinaryFrame(head, texts, total);
}

export { encodeBinaryFrame as encodeTasksFrame };

/** A deadline as the span a tasks frame carries (see TaskFields.start_within_ms). */
export function startWithin(deadlineAt: number, now: number): number {
  return Math.max(0, Math.floor(deadlineAt - now));
}

/** Tasks as a text tasks frame carries them: a deadline becomes a span. */
export function wireTasks(tasks: TaskAssignment[]): TasksMessage['tasks'] {
  // The common case, no deadline: the tasks as they are, no copy.
  if (!tasks.some((t) => t.deadline_at !== undefined)) return tasks;
  const now = Date.now();
  return tasks.map(({ deadline_at, ...task }) =>
    deadline_at === undefined ? task : { ...task, start_within_ms: startWithin(deadline_at, now) },
  );
}

/** Tasks as a worker holds them: a span becomes a deadline in this process's clock. */
export function heldTasks(tasks: TasksMessage['tasks']): TaskAssignment[] {
  if (!tasks.some((t) => t.start_within_ms !== undefined)) return tasks;
  const now = Date.now();
  return tasks.map(({ start_within_ms, ...task }) =>
    start_within_ms === undefined ? task : { ...task, deadline_at: now + start_within_ms },
  );
}

/** Reads a binary tasks frame into the tasks message a text frame carries. Throws ProtocolError. */
export function decodeTasksFrame(frame: Buffer): TasksMessage {
  const { head, texts } = decodeBinaryFrame(frame, 'Tasks');
  const { functions, tasks } = parseHead(head);
  const out = tasks.map(({ args_bytes, ...task }) => ({ ...task, args: texts.next(args_bytes) }));
  texts.end();
  return { type: 'tasks', functions, tasks: out };
}
