/**
 * The binary tasks frame, for workers that ask for it in their hello
 * (`binary_tasks`). Layout:
 *
 *   uint32 BE   length of the head, in bytes
 *   head        JSON text of TasksHead: the tasks message with each task's
 *               `args` replaced by `args_bytes`, the length of its argument text
 *   args        each task's argument text as UTF-8, in the order of the head
 *
 * Why: argument text is JSON already. In a text frame it is escaped into the
 * frame's JSON on the server and unescaped by JSON.parse on the worker, and
 * the worker's shape check walks it: three passes over every byte that carry
 * nothing. Here it is copied once into the frame and decoded once out of it.
 */

import { ProtocolError } from './errors.js';
import { jsonShapeProblem } from './json-shape.js';
import { type TasksHead, TasksHeadSchema, type TasksMessage } from './protocol.js';
import type { FunctionSource, TaskAssignment } from './types.js';
import { compileParser } from './validate.js';

const HEAD_LENGTH_BYTES = 4;

const parseHead = compileParser(
  TasksHeadSchema,
  (reason) => new ProtocolError(`Malformed tasks frame head: ${reason}`),
);

/** A frame measured before it is built, so frames are cut to a peer's limit without building them. */
export interface TasksFramePlan {
  /** JSON text of the head. */
  head: string;
  /** The whole frame's length. */
  bytes: number;
}

export function planTasksFrame(
  tasks: readonly TaskAssignment[],
  functions: readonly FunctionSource[],
): TasksFramePlan {
  let argsBytes = 0;
  const head: TasksHead = {
    type: 'tasks',
    functions: [...functions],
    tasks: tasks.map((t) => {
      const length = Buffer.byteLength(t.args);
      argsBytes += length;
      return {
        id: t.id,
        fn: t.fn,
        attempt: t.attempt,
        timeout_ms: t.timeout_ms,
        args_bytes: length,
      };
    }),
  };
  const text = JSON.stringify(head);
  return { head: text, bytes: HEAD_LENGTH_BYTES + Buffer.byteLength(text) + argsBytes };
}

/** Builds the frame `plan` measured for the same tasks. */
export function encodeTasksFrame(tasks: readonly TaskAssignment[], plan: TasksFramePlan): Buffer {
  const frame = Buffer.allocUnsafe(plan.bytes);
  let at = HEAD_LENGTH_BYTES;
  at += frame.write(plan.head, at, 'utf8');
  frame.writeUInt32BE(at - HEAD_LENGTH_BYTES, 0);
  for (const task of tasks) at += frame.write(task.args, at, 'utf8');
  return frame;
}

/** Reads a binary tasks frame into the tasks message a text frame carries. Throws ProtocolError. */
export function decodeTasksFrame(frame: Buffer): TasksMessage {
  if (frame.length < HEAD_LENGTH_BYTES) throw new ProtocolError('Tasks frame is cut short');
  const headEnd = HEAD_LENGTH_BYTES + frame.readUInt32BE(0);
  if (headEnd > frame.length) throw new ProtocolError('Tasks frame head is cut short');
  const headBytes = frame.subarray(HEAD_LENGTH_BYTES, headEnd);
  const problem = jsonShapeProblem(headBytes);
  if (problem !== undefined) throw new ProtocolError(`Tasks frame head refused: ${problem}`);
  let value: unknown;
  try {
    value = JSON.parse(headBytes.toString('utf8'));
  } catch {
    throw new ProtocolError('Tasks frame head is not JSON text');
  }
  const head = parseHead(value);
  let at = headEnd;
  const tasks = head.tasks.map(({ args_bytes, ...task }) => {
    const end = at + args_bytes;
    if (end > frame.length) throw new ProtocolError('Tasks frame arguments are cut short');
    const args = frame.toString('utf8', at, end);
    at = end;
    return { ...task, args };
  });
  if (at !== frame.length) throw new ProtocolError('Tasks frame has bytes past its arguments');
  return { type: 'tasks', functions: head.functions, tasks };
}
