/**
 * The entry point of one task thread. It compiles each function once (cached
 * by function id), runs its tasks one at a time so that ending the thread
 * ends exactly one task, and posts outcomes back in batches.
 *
 * It never imports the pool; both share thread-messages.ts.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { ResultTooLargeError, toErrorData } from '../shared/errors.js';
import { serialize } from '../shared/serialize.js';
import type { TaskAssignment, TaskOutcome } from '../shared/types.js';
import {
  type FromThread,
  SEQ_INDEX,
  STARTED_INDEX,
  type ThreadData,
  type ToThread,
} from './thread-messages.js';

type UserFunction = (...args: unknown[]) => unknown;

const data = workerData as ThreadData;
const seqView = new Int32Array(data.state, 0, 1);
const startedView = new Float64Array(data.state, 8 * STARTED_INDEX, 1);
const port = parentPort;
if (!port) throw new Error('thread-runtime.js must run as a worker thread');

// A stray rejection from user code that no task awaits belongs to no task;
// letting it end the thread would fail whichever task happens to be running.
process.on('unhandledRejection', () => {});

const sources = new Map<string, string>();
const compiled = new Map<string, UserFunction>();
const queue: { task: TaskAssignment; seq: number }[] = [];
const skipped = new Set<number>();
let running = false;

// Flush at least this often during a long run of sync tasks, so results
// stream back instead of waiting for the whole batch.
const FLUSH_MS = 2;

function compile(fnId: string): UserFunction {
  const cached = compiled.get(fnId);
  if (cached) return cached;
  const source = sources.get(fnId);
  if (source === undefined) {
    // The server sends no source for a function its store no longer has.
    throw new Error(`Function ${fnId} is unknown or was deleted; register it again`);
  }
  // The newline keeps a trailing line comment in the source from eating the paren.
  const fn = new Function(`return (${source}\n);`)() as UserFunction;
  compiled.set(fnId, fn);
  return fn;
}

function succeed(task: TaskAssignment, value: unknown, runMs: number): TaskOutcome {
  const text = serialize(value);
  if (text.length > data.maxResultBytes) {
    return fail(task, new ResultTooLargeError(text.length, data.maxResultBytes), runMs);
  }
  return { id: task.id, attempt: task.attempt, status: 'COMPLETED', value: text, run_ms: runMs };
}

function fail(task: TaskAssignment, error: unknown, runMs: number): TaskOutcome {
  return {
    id: task.id,
    attempt: task.attempt,
    status: 'FAILED',
    value: JSON.stringify(toErrorData(error)),
    run_ms: runMs,
  };
}

function post(outcomes: TaskOutcome[]): void {
  const message: FromThread = { type: 'done', outcomes };
  port?.postMessage(message);
}

async function drain(): Promise<void> {
  running = true;
  let out: TaskOutcome[] = [];
  let lastFlush = performance.now();
  let head = 0;
  while (head < queue.length) {
    const entry = queue[head++];
    if (!entry) break;
    const { task, seq } = entry;
    if (skipped.delete(seq)) {
      out.push({
        id: task.id,
        attempt: task.attempt,
        status: 'CANCELLED',
        value: 'null',
        run_ms: 0,
      });
      continue;
    }
    const started = performance.now();
    startedView[0] = Date.now();
    Atomics.store(seqView, SEQ_INDEX, seq);
    let outcome: TaskOutcome;
    try {
      const fn = compile(task.fn);
      let value = fn(...(JSON.parse(task.args) as unknown[]));
      if (value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function') {
        // Send what is done before waiting, so results never wait on a slow task.
        if (out.length > 0) {
          post(out);
          out = [];
          lastFlush = performance.now();
        }
        value = await value;
      }
      outcome = succeed(task, value, performance.now() - started);
    } catch (error) {
      outcome = fail(task, error, performance.now() - started);
    }
    Atomics.store(seqView, SEQ_INDEX, -1);
    out.push(outcome);
    if (performance.now() - lastFlush > FLUSH_MS) {
      post(out);
      out = [];
      lastFlush = performance.now();
    }
    if (head > 1024) {
      queue.splice(0, head);
      head = 0;
    }
  }
  queue.length = 0;
  if (out.length > 0) post(out);
  running = false;
}

port.on('message', (message: ToThread) => {
  switch (message.type) {
    case 'run': {
      for (const fn of message.functions) sources.set(fn.id, fn.source);
      let seq = message.firstSeq;
      for (const task of message.tasks) queue.push({ task, seq: seq++ });
      if (!running) void drain();
      return;
    }
    case 'skip':
      skipped.add(message.seq);
      return;
    default: {
      const never: never = message;
      throw new Error(`Unknown thread message ${JSON.stringify(never)}`);
    }
  }
});
