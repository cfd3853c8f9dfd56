/**
 * Messages between a ThreadPool and its threads. The task and outcome
 * shapes are the same ones the socket protocol carries.
 */

import type { FunctionSource, TaskAssignment, TaskOutcome } from '../shared/types.js';

export type ToThread =
  | { type: 'run'; functions: FunctionSource[]; tasks: TaskAssignment[]; firstSeq: number }
  | { type: 'skip'; seq: number };

export type FromThread = { type: 'done'; outcomes: TaskOutcome[] };

/**
 * What a thread shares with its pool without a message: the sequence number
 * of the task it is running (-1 when idle) and when that task started. The
 * pool reads it to know exactly which task to blame when it must end the
 * thread (timeout, cancel) or when the thread dies on its own.
 */
export interface ThreadData {
  state: SharedArrayBuffer;
  maxResultBytes: number;
}

export const STATE_BYTES = 16;
export const SEQ_INDEX = 0; // Int32 slot
export const STARTED_INDEX = 1; // Float64 slot (byte offset 8)
