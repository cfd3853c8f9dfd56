/**
 * Messages between a ThreadPool and its threads. The task and outcome
 * shapes are the same ones the socket protocol carries.
 *
 * They travel on a private MessageChannel, not on parentPort: task code can
 * reach parentPort (node:worker_threads) and could read other tasks'
 * arguments or post forged outcomes there. The thread's end of the channel
 * arrives in workerData and the runtime removes it from there before any
 * task runs. The thread pulls messages (receiveMessageOnPort) rather than
 * listening for them, so no event dispatch that task code can patch sits
 * between the pool and the runtime; the pool rings a doorbell in shared
 * memory after each message, and an idle thread sleeps on it.
 */

import type { MessagePort } from 'node:worker_threads';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../shared/types.js';

export type ToThread =
  | { type: 'run'; functions: FunctionSource[]; tasks: TaskAssignment[]; firstSeq: number }
  | { type: 'skip'; seq: number };

/**
 * `done`: the first `count` outcomes, each for the task whose sequence number
 * is at the same index of `seqs` (a thread may run its tasks out of order, to
 * group a function's tasks). The arrays are the runtime's fixed-size buffers,
 * which task code cannot tamper with; entries past `count` are unused.
 * `retire`: the thread found its realm changed in a way it cannot undo
 * (sandbox-realm-guard.ts) after posting every outcome it had; it will start
 * no other task, so every task it still holds is unstarted.
 * `progress`: the running task (`seq`) called `progress(value, note?)`;
 * already checked, clamped to 0…1 and throttled by the runtime
 * (thread-progress.ts), and checked again by the pool (it must be a task the
 * thread holds).
 */
export type FromThread =
  | { type: 'done'; count: number; outcomes: (TaskOutcome | undefined)[]; seqs: number[] }
  | { type: 'retire'; reason: string }
  | { type: 'progress'; seq: number; value: number; note: string | undefined };

/** Outcomes a thread buffers before it must post them. */
export const OUTCOME_BUFFER = 64;

/**
 * What a thread shares with its pool without a message: the sequence number
 * of the task it is running (-1 when idle), when that task started, the
 * doorbell and whether the runtime is ready. The pool reads it to know
 * exactly which task to blame when it must end the thread (timeout, cancel)
 * or when the thread dies on its own.
 */
export interface ThreadData {
  state: SharedArrayBuffer;
  port: MessagePort;
  maxResultBytes: number;
  /** `taskgrid worker --sandbox`: lock process.kill and friends (sandbox-process.ts). */
  sandbox: boolean;
}

export const STATE_BYTES = 24;
export const SEQ_INDEX = 0; // Int32 slot 0
export const DOORBELL_INDEX = 1; // Int32 slot 1: bumped by the pool after each message
export const READY_INDEX = 2; // Int32 slot 2: 1 once the runtime takes messages
export const STARTED_INDEX = 2; // Float64 slot (byte offset 16)
