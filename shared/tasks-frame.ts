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
  const { lengths, total } = textLengths(texts);
  const head: TasksHead = {
    type: 'tasks',
    functions: [...functions],
    tasks: tasks.map((t, i) => ({
      id: t.id,
      fn: t.fn,
      attempt: t.attempt,
      timeout_ms: t.timeout_ms,
      args_bytes: lengths[i] ?? 0,
    })),
  };
  return planBinaryFrame(head, texts, total);
}

export { encodeBinaryFrame as encodeTasksFrame };

/** Reads a binary tasks frame into the tasks message a text frame carries. Throws ProtocolError. */
export function decodeTasksFrame(frame: Buffer): TasksMessage {
  const { head, texts } = decodeBinaryFrame(frame, 'Tasks');
  const { functions, tasks } = parseHead(head);
  const out = tasks.map(({ args_bytes, ...task }) => ({ ...task, args: texts.next(args_bytes) }));
  texts.end();
  return { type: 'tasks', functions, tasks: out };
}
