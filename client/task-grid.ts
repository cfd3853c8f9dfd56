/**
 * The typed client SDK.
 *
 *   const grid = new TaskGrid({ url: 'http://127.0.0.1:8000' });
 *   const fib = await grid.register(function fib(n: number): number { ... });
 *   console.log(await fib(30));
 *
 * Calls are submitted on `/ws/client` and their results arrive on it the
 * moment they are stored; nothing polls. Batches (`map`) and arguments too
 * large for the socket's frames go by REST, as do the lifecycle reads and
 * actions (`tasks`, `retry`, `functions`, `deleteFunction`, `info`).
 */

import { randomUUID } from 'node:crypto';
import { type ErrorData, httpStatusOf } from '../shared/errors.js';
import { intOption, OptionError } from '../shared/options.js';
import { deserialize, heldArgs, serializeArgs } from '../shared/serialize.js';
import { checkTokenTransport, pemOption } from '../shared/transport-security.js';
import type { TaskStatus } from '../shared/types.js';
import { type HttpRequest, type HttpTransport, httpTransport } from './http-transport.js';
import { progressIterator } from './progress-iterator.js';
import {
  type BatchFields,
  ResultStream,
  type Submission,
  type SubmitFields,
  SubmitRefusedError,
  SubmitUnansweredError,
  type TaskProgress,
  type TaskResultMessage,
} from './result-stream.js';
import {
  type BatchSubmitOptions,
  checkArgumentList,
  labelList,
  retryPolicy,
  type SubmitOptions,
  submitFields,
} from './submit-options.js';
import { type TaskFilter, taskQuery } from './task-filter.js';
import {
  type FunctionDetails,
  type FunctionInfo,
  functionDetails,
  functionList,
  parseDeleteFunctionReply,
  parseRetryReply,
  type TaskDetails,
  type TaskInfo,
  type TaskPage,
  taskDetails,
  taskPage,
} from './task-records.js';
import { type Args, markHandle, resolveArgs } from './task-refs.js';

export type { RetryOptions, SubmitOptions } from './submit-options.js';
export { RemoteTaskError, TaskGridHttpError } from './task-errors.js';
export type { TaskFilter } from './task-filter.js';
export type {
  FunctionDetails,
  FunctionInfo,
  RecordedProgress,
  TaskDetails,
  TaskInfo,
  TaskPage,
  TaskRunError,
} from './task-records.js';
export type { Arg, Args } from './task-refs.js';

import { RemoteTaskError, TaskGridHttpError } from './task-errors.js';

export type { TaskProgress };

export interface TaskGridOptions {
  /** The server's HTTP address, e.g. http://127.0.0.1:8000 or https://grid.example:8443. */
  url: string;
  token?: string;
  /** PEM text of a private CA to trust for an https:// server, beside the system's CAs. */
  ca?: string | Buffer;
  /** Send the token over plain http:// to a host other than this one (refused without). */
  insecure?: boolean;
}

export interface TaskHandle<R> {
  readonly id: string;
  status(): Promise<TaskStatus>;
  /**
   * The return value; rejects with RemoteTaskError when the task failed or was
   * cancelled. After `retry()`, the outcome of the new attempt.
   */
  result(): Promise<R>;
  cancel(): Promise<TaskStatus>;
  /**
   * Calls `listener` with each update the running task reports through
   * `progress(value, note?)` (about ten a second at most), until it
   * finishes. Returns a function that stops listening.
   */
  on(event: 'progress', listener: (progress: TaskProgress) => void): () => void;
  /** The same updates as an async iterator that ends when the task finishes. */
  progress(): AsyncGenerator<TaskProgress, void, undefined>;
  /** The whole record (GET /task/:id): times, attempts, progress, errors, outcome. */
  info(): Promise<TaskDetails>;
  /** Runs a FAILED or CANCELLED task again under the same id (409 otherwise). */
  retry(): Promise<TaskStatus>;
}

export interface MapOptions extends BatchSubmitOptions {
  /** Payloads per batch (a submit_batch frame, or an execute_batch call; default 1000). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface RemoteFunction<A extends unknown[], R> {
  /** A handle (or the promise of one) as an argument stands for that task's result. */
  (...args: Args<A>): Promise<R>;
  readonly id: string;
  /**
   * Submits one call, with lifecycle options: `fn.submit([30], {priority: 10})`.
   * A handle from another submit (or the promise of one) as an argument
   * stands for that task's result: the task waits until it completed and
   * runs with its value there (`g.submit([f.submit([1])])`).
   */
  submit(args: Args<A>, options?: SubmitOptions): Promise<TaskHandle<R>>;
  /** Runs the function once per argument list (batch submission); yields results in input order. */
  map(argLists: Iterable<A>, options?: MapOptions): AsyncGenerator<R>;
  /** Its record and source (GET /function/:id). */
  info(): Promise<FunctionDetails>;
}

export interface RegisterOptions {
  name?: string;
  /** Default timeout of this function's tasks. */
  timeoutMs?: number;
  /** Default retry policy of this function's tasks. */
  retry?: SubmitOptions['retry'];
  /** Its tasks run only on workers with all of these labels. */
  labels?: string[];
  /** At most this many of its tasks RUNNING at once, across the grid. */
  concurrency?: number;
}

/** What deleting a function did. */
export interface DeletedFunction {
  id: string;
  /** Its QUEUED and WAITING tasks, now CANCELLED. */
  cancelled: number;
}

export interface ScheduleOptions<A extends unknown[] = unknown[]> {
  /** 5 fields (minute hour day-of-month month day-of-week), or 6 with leading seconds. */
  cron: string;
  /** The arguments each fire passes. */
  args: A;
  /** IANA time zone the cron is read in (UTC by default). */
  timezone?: string;
  priority?: number;
  timeoutMs?: number;
}

export interface Schedule {
  scheduleId: string;
  functionId: string;
  cron: string;
  /** JSON text of the argument array. */
  payload: string;
  timezone?: string;
  priority?: number;
  timeoutMs?: number;
  /** ms since the epoch. */
  nextRunAt: number;
  createdAt: number;
  lastRunAt?: number;
  lastTaskId?: string;
}

/** GET /schedules as the server sends each one. */
interface ScheduleWire {
  schedule_id: string;
  function_id: string;
  cron: string;
  payload: string;
  timezone?: string;
  priority?: number;
  timeout_ms?: number;
  next_run_at: number;
  created_at: number;
  last_run_at?: number;
  last_task_id?: string;
}

type AnyFunction = (...args: never[]) => unknown;

/** How long a submit is retried while the server answers 503. */
const SUBMIT_RETRY_MS = 15_000;
/** Batches of one map() sent before the first is answered. */
const MAP_BATCHES_UNDER_WAY = 4;

export class TaskGrid {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #results: ResultStream;
  readonly #http: HttpTransport;

  constructor(options: TaskGridOptions) {
    if (typeof options?.url !== 'string' || !/^https?:\/\//.test(options.url)) {
      throw new TypeError(
        `Expected \`url\` to be an http(s) URL such as http://127.0.0.1:8000, got \`${String(options?.url)}\``,
      );
    }
    checkTokenTransport('url', options.url, Boolean(options.token), options.insecure === true);
    this.#base = options.url.replace(/\/$/, '');
    this.#headers = { 'content-type': 'application/json' };
    if (options.token) this.#headers.authorization = `Bearer ${options.token}`;
    const ca = options.ca === undefined ? undefined : pemOption('ca', options.ca);
    this.#http = httpTransport(ca);
    this.#results = new ResultStream(this.#base, options.token, ca);
  }

  /** Registers a function (its source is taken from the function itself). */
  async register<F extends AnyFunction>(
    fn: F,
    options: RegisterOptions = {},
  ): Promise<RemoteFunction<Parameters<F>, Awaited<ReturnType<F>>>> {
    if (typeof fn !== 'function') {
      throw new TypeError(`Expected a function to register, got ${typeof fn}`);
    }
    const source = fn.toString();
    if (source.includes('[native code]'))
      throw new TypeError('A native function cannot be registered');
    return this.registerSource(source, options.name ?? (fn.name || 'anonymous'), options);
  }

  /** Registers function source text. */
  async registerSource<A extends unknown[] = unknown[], R = unknown>(
    source: string,
    name = 'anonymous',
    options: RegisterOptions = {},
  ): Promise<RemoteFunction<A, R>> {
    const body: Record<string, unknown> = { name, payload: source };
    if (options.timeoutMs) body.timeout_ms = options.timeoutMs;
    if (options.retry !== undefined) body.retry = retryPolicy(options.retry);
    if (options.labels !== undefined) body.labels = labelList(options.labels);
    // Its upper bound is the server's to check (a 422).
    if (options.concurrency !== undefined) {
      body.concurrency = intOption('concurrency', options.concurrency, 1);
    }
    const { function_id } = await this.#call<{ function_id: string }>(
      'POST',
      '/register_function',
      body,
    );
    return this.function<A, R>(function_id);
  }

  /** A handle on an already registered function. */
  function<A extends unknown[] = unknown[], R = unknown>(functionId: string): RemoteFunction<A, R> {
    const submit = async (args: Args<A>, options?: SubmitOptions): Promise<TaskHandle<R>> => {
      checkArgumentList(args);
      const fields: SubmitFields = {
        function_id: functionId,
        payload: serializeArgs(await resolveArgs(args)),
        // A key of its own unless given: the SDK's retries then never store a task twice.
        idempotency_key: randomUUID(),
        ...submitFields(options),
      };
      const submitted = await this.#retrying(() => this.#submitOne(fields));
      return this.#handle<R>(submitted);
    };
    const call = async (...args: Args<A>): Promise<R> => (await submit(args)).result();
    const map = (argLists: Iterable<A>, options: MapOptions = {}) =>
      this.#map<A, R>(functionId, argLists, options);
    const info = () => this.#read(`/function/${encodeURIComponent(functionId)}`, functionDetails);
    return Object.assign(call, { id: functionId, submit, map, info });
  }

  /** A handle on a task by id. */
  task<R = unknown>(taskId: string): TaskHandle<R> {
    const path = `/task/${encodeURIComponent(taskId)}`;
    return markHandle({
      id: taskId,
      status: async () =>
        (await this.#call<{ status: TaskStatus }>('GET', `/status/${taskId}`)).status,
      result: async () => unpack<R>(await this.#results.wait(taskId)),
      on: (event, listener) => {
        if (event !== 'progress') {
          throw new TypeError(`Expected the event \`progress\`, got \`${String(event)}\``);
        }
        if (typeof listener !== 'function') {
          throw new TypeError(`Expected a listener function, got ${typeof listener}`);
        }
        return this.#results.onProgress(taskId, { update: listener, end: () => {} });
      },
      progress: () => progressIterator((listener) => this.#results.onProgress(taskId, listener)),
      cancel: async () => (await this.#call<{ status: TaskStatus }>('DELETE', path)).status,
      info: () => this.#read(path, taskDetails),
      retry: async () => parseRetryReply(await this.#json('POST', `${path}/retry`)).status,
    });
  }

  /** Runs a FAILED or CANCELLED task again under the same id; resolves its new status, QUEUED. */
  async retry(taskId: string): Promise<TaskStatus> {
    return this.task(taskId).retry();
  }

  /** One page of tasks, newest first (GET /tasks); `status: 'FAILED'` is the dead-letter view. */
  async tasks(filter: TaskFilter = {}): Promise<TaskPage> {
    return this.#read(`/tasks${taskQuery(filter)}`, taskPage);
  }

  /** Every task the filter matches, newest first, fetched a page at a time as it is iterated. */
  async *allTasks(filter: Omit<TaskFilter, 'cursor'> = {}): AsyncGenerator<TaskInfo> {
    let cursor: string | undefined;
    do {
      const page = await this.tasks(cursor === undefined ? filter : { ...filter, cursor });
      yield* page.tasks;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  /** Every registered function (GET /functions), without sources. */
  async functions(): Promise<FunctionInfo[]> {
    return this.#read('/functions', functionList);
  }

  /**
   * Deletes a function: its QUEUED and WAITING tasks become CANCELLED, later
   * submits are refused (404), running tasks finish.
   */
  async deleteFunction(functionId: string): Promise<DeletedFunction> {
    const reply = parseDeleteFunctionReply(
      await this.#json('DELETE', `/function/${encodeURIComponent(functionId)}`),
    );
    return { id: reply.function_id, cancelled: reply.cancelled };
  }

  /**
   * A handle whose result, for a socket submit, is the one the socket is
   * already subscribed to, until a retry starts a new attempt.
   */
  #handle<R>(submitted: Submission | { id: string; result?: undefined }): TaskHandle<R> {
    const handle = this.task<R>(submitted.id);
    let pending = submitted.result;
    if (!pending) return handle;
    // Awaited when result() is called; a rejection before that must not count as unhandled.
    pending.catch(() => {});
    return markHandle({
      ...handle,
      result: async () => (pending ? unpack<R>(await pending) : handle.result()),
      retry: async () => {
        const status = await handle.retry();
        pending = undefined;
        return status;
      },
    });
  }

  /**
   * One submit: on the client socket when it can carry it (the server then
   * subscribes the socket to the task), else by REST.
   */
  async #submitOne(fields: SubmitFields): Promise<Submission | { id: string }> {
    let submission: Submission | undefined;
    try {
      submission = await this.#results.submit(fields);
    } catch (error) {
      throw refusalAsHttp(error);
    }
    if (submission) return submission;
    const { task_id } = await this.#call<{ task_id: string }>('POST', '/execute_function', fields);
    return { id: task_id };
  }

  /**
   * Runs a registered function on a cron schedule: each slot submits one
   * task, once across all servers.
   */
  async schedule<A extends unknown[]>(
    fn: RemoteFunction<A, unknown> | string,
    options: ScheduleOptions<A>,
  ): Promise<{ scheduleId: string; nextRunAt: number }> {
    const body: Record<string, unknown> = {
      function_id: typeof fn === 'string' ? fn : fn.id,
      cron: options.cron,
      payload: serializeArgs(options.args),
    };
    if (options.timezone !== undefined) body.timezone = options.timezone;
    if (options.priority !== undefined) body.priority = options.priority;
    if (options.timeoutMs !== undefined) body.timeout_ms = options.timeoutMs;
    const reply = await this.#call<{ schedule_id: string; next_run_at: number }>(
      'POST',
      '/schedules',
      body,
    );
    return { scheduleId: reply.schedule_id, nextRunAt: reply.next_run_at };
  }

  /** Every schedule, the next to fire first. */
  async schedules(): Promise<Schedule[]> {
    const { schedules } = await this.#call<{ schedules: ScheduleWire[] }>('GET', '/schedules');
    return schedules.map(fromScheduleWire);
  }

  /** Deletes a schedule; tasks it already submitted are left as they are. */
  async unschedule(scheduleId: string): Promise<void> {
    await this.#call('DELETE', `/schedule/${encodeURIComponent(scheduleId)}`);
  }

  /** Closes the result socket; pending results reject. */
  close(): void {
    this.#results.close();
  }

  async *#map<A extends unknown[], R>(
    functionId: string,
    argLists: Iterable<A>,
    options: MapOptions,
  ): AsyncGenerator<R> {
    const { batchSize, onProgress, ...lifecycle } = options;
    const fields = submitFields(lifecycle);
    // One key per payload is the batch's own; a single key for them all cannot be.
    if (fields.idempotency_key !== undefined) {
      const why = 'absent from map() (each task gets a key of its own)';
      throw new OptionError('idempotencyKey', why, fields.idempotency_key);
    }
    const all = [...argLists];
    const size = batchSize ?? 1000;
    const batches: Promise<Submission[]>[] = [];
    for (let i = 0; i < all.length; i += size) {
      // Large ones as bytes: a batch is held until it is answered, and large strings held
      // that long are copied by every young-generation collection (64 KiB arguments: a
      // third of the SDK's CPU went to the collector).
      const payloads = all.slice(i, i + size).map((args) => heldArgs(args));
      const batch: BatchFields = {
        function_id: functionId,
        payloads,
        ...fields,
        idempotency_keys: payloads.map(() => randomUUID()),
      };
      // A few batches under way at once: the server stores a socket's batches in the order
      // sent, and the next one travels while this one is stored.
      if (batches.length >= MAP_BATCHES_UNDER_WAY)
        await batches[batches.length - MAP_BATCHES_UNDER_WAY];
      const submitted = this.#retrying(() => this.#submitBatch(batch));
      // Awaited in order below; a failure must not count as unhandled meanwhile.
      submitted.catch(() => {});
      batches.push(submitted);
    }
    let done = 0;
    for (const batch of batches) {
      for (const { result } of await batch) {
        const value = unpack<R>(await result);
        onProgress?.(++done, all.length);
        yield value;
      }
    }
  }

  /**
   * One batch: in a binary frame on the client socket when it can carry it
   * (the server then subscribes the socket to its tasks), else by REST.
   */
  async #submitBatch(batch: BatchFields): Promise<Submission[]> {
    const submitted = (await this.#onSocket(batch)) ?? (await this.#byRest(batch));
    // Awaited in order by map(): a later batch's result may fail (its task unknown, the
    // client closed) before then, and must not count as unhandled meanwhile.
    for (const { result } of submitted) result.catch(() => {});
    return submitted;
  }

  async #onSocket(batch: BatchFields): Promise<Submission[] | undefined> {
    try {
      return await this.#results.submitBatch(batch);
    } catch (error) {
      throw refusalAsHttp(error);
    }
  }

  async #byRest(batch: BatchFields): Promise<Submission[]> {
    const body = { ...batch, payloads: batch.payloads.map((p) => p.toString()) };
    const { task_ids } = await this.#call<{ task_ids: string[] }>('POST', '/execute_batch', body);
    return task_ids.map((id) => ({ id, result: this.#results.wait(id) }));
  }

  /**
   * A submit, retried while the server answers 503 (the store is away, or the
   * server is draining) or cannot be reached. The submit carries idempotency keys, so a retry of
   * a submit that was stored after all returns the same task instead of a copy.
   */
  async #retrying<T>(submit: () => Promise<T>): Promise<T> {
    const giveUp = Date.now() + SUBMIT_RETRY_MS;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await submit();
      } catch (error) {
        // 503 (not stored), 504 (may be stored) or no answer at all (a server restarting, a
        // socket closed under the submit): with the keys, each is safe to retry.
        const retriable =
          (error instanceof TaskGridHttpError && (error.status === 503 || error.status === 504)) ||
          (error instanceof TypeError && error.message === 'fetch failed') ||
          error instanceof SubmitUnansweredError;
        if (!retriable || Date.now() + delay > giveUp) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
      }
    }
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.#json(method, path, body)) as T;
  }

  /** A GET whose reply goes through its converter (task-records.ts). */
  async #read<T>(path: string, convert: (reply: unknown) => T): Promise<T> {
    return convert(await this.#json('GET', path));
  }

  /** A REST call's parsed JSON reply; rejects TaskGridHttpError for an error status. */
  async #json(method: string, path: string, body?: unknown): Promise<unknown> {
    const init: HttpRequest = { method, headers: this.#headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await this.#http(this.#base + path, init);
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } })?.error;
      throw new TaskGridHttpError(
        res.status,
        error?.code ?? 'TG_HTTP',
        error?.message ?? `${method} ${path} answered ${res.status}`,
      );
    }
    return parsed;
  }
}

function fromScheduleWire(w: ScheduleWire): Schedule {
  const out: Schedule = {
    scheduleId: w.schedule_id,
    functionId: w.function_id,
    cron: w.cron,
    payload: w.payload,
    nextRunAt: w.next_run_at,
    createdAt: w.created_at,
  };
  if (w.timezone !== undefined) out.timezone = w.timezone;
  if (w.priority !== undefined) out.priority = w.priority;
  if (w.timeout_ms !== undefined) out.timeoutMs = w.timeout_ms;
  if (w.last_run_at !== undefined) out.lastRunAt = w.last_run_at;
  if (w.last_task_id !== undefined) out.lastTaskId = w.last_task_id;
  return out;
}

/** A socket submit's refusal as the HTTP error the same refusal by REST would be. */
function refusalAsHttp(error: unknown): unknown {
  if (!(error instanceof SubmitRefusedError)) return error;
  return new TaskGridHttpError(httpStatusOf(error.code), error.code, error.message);
}

function unpack<R>(message: TaskResultMessage): R {
  if (message.status === 'COMPLETED') return deserialize(message.result ?? 'null') as R;
  if (message.status === 'CANCELLED') {
    throw new RemoteTaskError(message.task_id, {
      name: 'CancelledError',
      message: 'Task was cancelled',
    });
  }
  throw new RemoteTaskError(message.task_id, deserialize(message.result ?? '{}') as ErrorData);
}
