/**
 * The entry point of one task thread. It compiles each function once (cached
 * by function id), runs its tasks one at a time so that ending the thread
 * ends exactly one task, and posts outcomes back in batches.
 *
 * Whatever a task does, exactly one outcome is posted for it and the thread
 * moves on (issue 11, defect 10): the outcome is built inside the task's own
 * window (its sequence number is published, so the pool's timeout covers a
 * getter or toJSON that never returns), error data is built by a total
 * function, and every step after the task uses copies of built-ins taken
 * before any task code ran (sandbox-primordials.ts), so a task that replaces
 * JSON.parse or Array.prototype.push cannot make the runtime lose an outcome.
 *
 * Functions cannot corrupt each other (defect 10b): the thread runs a
 * function's queued tasks together, and before it switches to another
 * function it lets the previous one's stray callbacks run, then checks the
 * realm (sandbox-realm-guard.ts). What can be undone is undone; otherwise the
 * thread posts `retire` and the pool replaces it.
 *
 * It never imports the pool; both share thread-messages.ts.
 */

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import { DEADLINE_EXCEEDED_VALUE, ResultTooLargeError, toErrorData } from '../shared/errors.js';
import type { TaskAssignment, TaskOutcome } from '../shared/types.js';
import {
  AtomicsLoad,
  AtomicsStore,
  AtomicsWait,
  DateNow,
  FunctionConstructor,
  JSONParse,
  JSONStringify,
  MapGet,
  MapSet,
  PerformanceNow,
  ReflectApply,
  ReflectDefineProperty,
  SafeMap,
  SafeSet,
  SetAdd,
  SetDelete,
} from './sandbox-primordials.js';
import { lockProcess } from './sandbox-process.js';
import { guardRealm } from './sandbox-realm-guard.js';
import {
  DOORBELL_INDEX,
  type FromThread,
  OUTCOME_BUFFER,
  READY_INDEX,
  SEQ_INDEX,
  STARTED_INDEX,
  type ThreadData,
  type ToThread,
} from './thread-messages.js';
import { ThreadProgress } from './thread-progress.js';

type UserFunction = (...args: unknown[]) => unknown;

const data = workerData as Partial<ThreadData>;
const port = data.port as MessagePort;
const state = data.state as SharedArrayBuffer;
const maxResultBytes = data.maxResultBytes as number;
// Out of reach of task code, which can import node:worker_threads and read workerData.
delete data.port;
delete data.state;
const ints = new Int32Array(state, 0, 4);
const started = new Float64Array(state, 8 * STARTED_INDEX, 1);
// Copies, taken now: task code can replace the module's exports.
const receive = receiveMessageOnPort;
const portPost = port.postMessage;
const post = (message: FromThread): void => {
  ReflectApply(portPost, port, [message]);
};
const SafePromise = Promise;
const SetImmediate = setImmediate;

// A stray rejection from task code that no task awaits belongs to no task;
// letting it end the thread would fail whichever task happens to be running.
process.on('unhandledRejection', () => {});
// The task port is pulled, not listened to; this keeps the event loop alive
// while a task awaits, so a promise that never settles meets its timeout.
new MessageChannel().port1.on('message', () => {});

if (data.sandbox) lockProcess();
// Before the realm is recorded: the guard then keeps the global as it is.
const progress = new ThreadProgress((seq, value, note) =>
  post({ type: 'progress', seq, value, note }),
);
progress.install();
const builtin =
  (process as { getBuiltinModule?: (name: string) => unknown }).getBuiltinModule?.bind(process) ??
  createRequire(import.meta.url);
const guard = guardRealm((name) => builtin(name));

/** Where the grid is installed, replaced by `<taskgrid>` in error messages. */
const installRoot = fileURLToPath(new URL('../..', import.meta.url));
const hidden = [`file://${installRoot}`, installRoot];
/** When even the total error builder fails (it runs task getters), this is the outcome. */
const FALLBACK_ERROR =
  '{"name":"Error","message":"The task failed with an error that could not be read","stack":""}';

interface Entry {
  task: TaskAssignment;
  seq: number;
  next: Entry | undefined;
}

const sources = new SafeMap<string, string>();
const compiled = new SafeMap<string, UserFunction>();
const skipped = new SafeSet<number>();
let head: Entry | undefined;
let tail: Entry | undefined;
/** The function that last ran task code here, and since when it has held the thread. */
let lastFn: string | undefined;
let streakStart = 0;

// Fixed-size, dense buffers: writing an index they already have never
// consults Array.prototype (a task may have put setters there).
const outcomes: (TaskOutcome | undefined)[] = Array.from({ length: OUTCOME_BUFFER });
const seqs: number[] = Array.from({ length: OUTCOME_BUFFER }, () => -1);
let count = 0;
let lastFlush = 0;

// Flush at least this often during a long run of sync tasks, so results
// stream back instead of waiting for the whole batch.
const FLUSH_MS = 2;
/** The doorbell's value when messages were last pulled. */
let bell = 0;
// Keep running one function's queued tasks for up to this long before
// taking the oldest task of another: fewer switches, each of which costs a
// realm check, without starving the others.
const STREAK_MS = 4;

function compile(fnId: string): UserFunction {
  const cached = MapGet(compiled, fnId);
  if (cached) return cached;
  const source = MapGet(sources, fnId);
  if (source === undefined) {
    // The server sends no source for a function its store no longer has.
    throw new Error(`Function ${fnId} is unknown or was deleted; register it again`);
  }
  // The newline keeps a trailing line comment in the source from eating the paren.
  const fn = (FunctionConstructor(`return (${source}\n);`) as () => unknown)();
  if (typeof fn !== 'function') throw new TypeError('The function source is not a function');
  MapSet(compiled, fnId, fn as UserFunction);
  return fn as UserFunction;
}

/**
 * The permission model's error says only "Access to this API has been
 * restricted"; its `permission` and `resource` say what was denied.
 */
function sandboxMessage(error: unknown, message: string): string {
  const { permission, resource } = error as { permission?: unknown; resource?: unknown };
  const what = [permission, resource].filter((v) => typeof v === 'string').join(' ');
  return `${message}${what ? ` (${what})` : ''}: the worker runs with --sandbox`;
}

/** JSON of error data, from its string fields only: never runs task code. */
function errorJson(error: unknown): string {
  const data = toErrorData(error, hidden);
  if (
    data.code === 'ERR_ACCESS_DENIED' &&
    data.message === 'Access to this API has been restricted'
  ) {
    data.message = sandboxMessage(error, data.message);
  }
  const field = (value: unknown) => (typeof value === 'string' ? JSONStringify(value) : '""');
  const code = typeof data.code === 'string' ? `,"code":${JSONStringify(data.code)}` : '';
  return `{"name":${field(data.name)},"message":${field(data.message)}${code},"stack":${field(data.stack)}}`;
}

function failed(task: TaskAssignment, error: unknown, runMs: number): TaskOutcome {
  let value = FALLBACK_ERROR;
  try {
    value = errorJson(error);
  } catch {
    // FALLBACK_ERROR
  }
  return { id: task.id, attempt: task.attempt, status: 'FAILED', value, run_ms: runMs };
}

function completed(task: TaskAssignment, value: unknown, runMs: number): TaskOutcome {
  const text = JSONStringify(value) as string | undefined;
  const json = text === undefined ? 'null' : text;
  if (json.length > maxResultBytes) {
    return failed(task, new ResultTooLargeError(json.length, maxResultBytes), runMs);
  }
  return { id: task.id, attempt: task.attempt, status: 'COMPLETED', value: json, run_ms: runMs };
}

function flush(): void {
  lastFlush = PerformanceNow();
  if (count === 0) return;
  post({ type: 'done', count, outcomes, seqs });
  for (let i = 0; i < count; i++) outcomes[i] = undefined;
  count = 0;
}

function record(seq: number, outcome: TaskOutcome): void {
  outcomes[count] = outcome;
  seqs[count] = seq;
  count++;
  if (count === OUTCOME_BUFFER || PerformanceNow() - lastFlush > FLUSH_MS || runningLow()) flush();
}

/**
 * At most one task left here: report now, so the pool sends more while that
 * one runs instead of after it (slow tasks come one or two at a time, and
 * a thread that waits for its next one idles for a round trip each time).
 */
function runningLow(): boolean {
  ringing();
  return head === undefined || head.next === undefined;
}

/** Takes what the pool sent since the doorbell was last looked at. */
function ringing(): void {
  const now = AtomicsLoad(ints, DOORBELL_INDEX);
  if (now === bell) return;
  bell = now;
  pull();
}

function handle(message: ToThread): void {
  if (message.type === 'skip') {
    SetAdd(skipped, message.seq);
    return;
  }
  if (message.type !== 'run') return;
  const fns = message.functions;
  for (let i = 0; i < fns.length; i++) {
    const fn = fns[i] as { id: string; source: string };
    MapSet(sources, fn.id, fn.source);
  }
  const tasks = message.tasks;
  for (let i = 0; i < tasks.length; i++) {
    const entry: Entry = {
      task: tasks[i] as TaskAssignment,
      seq: message.firstSeq + i,
      next: undefined,
    };
    if (tail) tail.next = entry;
    else head = entry;
    tail = entry;
  }
}

function pull(): void {
  for (;;) {
    const got = receive(port);
    if (got === undefined) return;
    handle(got.message as ToThread);
  }
}

/** The next task: the oldest, or the oldest of the function that ran last while its streak lasts. */
function take(): Entry | undefined {
  let entry = head;
  if (!entry) return undefined;
  let prev: Entry | undefined;
  if (
    entry.task.fn !== lastFn &&
    lastFn !== undefined &&
    PerformanceNow() - streakStart < STREAK_MS
  ) {
    for (let p = entry, e = entry.next; e; p = e, e = e.next) {
      if (e.task.fn === lastFn) {
        prev = p;
        entry = e;
        break;
      }
    }
  }
  if (prev) prev.next = entry.next;
  else head = entry.next;
  if (tail === entry) tail = prev;
  entry.next = undefined;
  return entry;
}

/**
 * One macrotask turn, so that the callbacks the previous function left
 * (microtasks, immediates, due timers) run now, outside any task, before the
 * realm is checked. The promise carries its own `constructor` so that await
 * uses it as is, whatever task code did to Promise.prototype.
 */
function settle(): Promise<void> {
  return awaitable(
    new SafePromise<void>((resolve) => {
      SetImmediate(resolve);
    }),
  );
}

/** `await` takes a native promise as is when its `constructor` is Promise: make sure it is. */
function awaitable<T>(promise: Promise<T>): Promise<T> {
  ReflectDefineProperty(promise, 'constructor', { __proto__: null, value: SafePromise } as never);
  return promise;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

async function run(entry: Entry): Promise<void> {
  const task = entry.task;
  const t0 = PerformanceNow();
  started[0] = DateNow();
  AtomicsStore(ints, SEQ_INDEX, entry.seq);
  progress.start(entry.seq);
  let outcome: TaskOutcome;
  try {
    const fn = compile(task.fn);
    let value = ReflectApply(fn, undefined, JSONParse(task.args) as unknown[]);
    if (isThenable(value)) {
      // Send what is done before waiting, so results never wait on a slow task.
      flush();
      value = await value;
    }
    outcome = completed(task, value, PerformanceNow() - t0);
  } catch (error) {
    outcome = failed(task, error, PerformanceNow() - t0);
  }
  progress.end();
  AtomicsStore(ints, SEQ_INDEX, -1);
  record(entry.seq, outcome);
}

async function loop(): Promise<void> {
  bell = AtomicsLoad(ints, DOORBELL_INDEX);
  pull();
  AtomicsStore(ints, READY_INDEX, 1);
  for (;;) {
    ringing();
    const entry = take();
    if (!entry) {
      flush();
      // Sleep until the pool rings; returns at once if it rang since `bell` was read.
      AtomicsWait(ints, DOORBELL_INDEX, bell);
      continue;
    }
    if (SetDelete(skipped, entry.seq)) {
      const task = entry.task;
      record(entry.seq, {
        id: task.id,
        attempt: task.attempt,
        status: 'CANCELLED',
        value: 'null',
        run_ms: 0,
      });
      continue;
    }
    // Not started by its deadline (it waited behind others here): it never runs.
    const deadline = entry.task.deadline_at;
    if (deadline !== undefined && DateNow() > deadline) {
      const task = entry.task;
      record(entry.seq, {
        id: task.id,
        attempt: task.attempt,
        status: 'FAILED',
        value: DEADLINE_EXCEEDED_VALUE,
        run_ms: 0,
      });
      continue;
    }
    if (entry.task.fn !== lastFn) {
      if (lastFn !== undefined) {
        flush();
        await settle();
        let reason: string | undefined;
        try {
          reason = guard.verify();
        } catch {
          reason = 'the realm check failed';
        }
        if (reason) {
          post({ type: 'retire', reason });
          return;
        }
      }
      lastFn = entry.task.fn;
      streakStart = PerformanceNow();
    }
    const pending = run(entry);
    // A sync task has already recorded its outcome; only an async one is awaited,
    // through its own `constructor` so a task's Promise.prototype changes cannot stall us.
    if (AtomicsLoad(ints, SEQ_INDEX) !== -1) await awaitable(pending);
  }
}

loop().catch(() => {
  // A fault of the runtime itself: hand every held task back rather than sit on them.
  post({ type: 'retire', reason: 'the thread runtime failed' });
});
