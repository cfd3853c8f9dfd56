/**
 * What the grid does for a client, independent of transport: register,
 * submit, read, wait, cancel. The REST API (and the client socket) are thin
 * layers over this.
 */

import { isUtf8 } from 'node:buffer';
import { validate as isUuid, v4 as uuidv4 } from 'uuid';
import {
  BadIdError,
  BadPayloadError,
  ConflictError,
  NotFoundError,
  TooLargeError,
  UnavailableError,
} from '../shared/errors.js';
import { isPlainJsonArray } from '../shared/json-bytes.js';
import { isWellFormed, parseArgsPayload } from '../shared/serialize.js';
import { isTerminal, type TaskOutcome, type TaskStatus } from '../shared/types.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import type { FunctionCache, FunctionDefaults } from './function-cache.js';
import { sharedFunctionChecker } from './function-checker.js';
import type { GridMetrics } from './metrics.js';
import type { ResultWaiters, WaitEnd } from './result-waiters.js';
import type { ServerConfig } from './server-config.js';
import { DEFAULT_LANE, laneId, normaliseLabels } from './store/lanes.js';
import type {
  NewTask,
  RetryPolicy,
  TaskQuery,
  TaskRecord,
  TaskReference,
  TaskStore,
} from './store/task-store.js';
import { checkDependencies, findReferences, referencedIds } from './task-references.js';
import {
  type FunctionSummary,
  functionSummary,
  type TaskDetail,
  taskDetail,
} from './task-views.js';

export const MAX_WAIT_MS = 30_000;
/** A long-poll whose read fails tries again this often while its wait lasts. */
const READ_RETRY_MS = 200;
/** Outcomes this server stored lately, answered without a store read (terminal results never change). */
const RECENT_OUTCOMES = 10_000;
const RECENT_VALUE_BYTES = 16 * 1024;

export interface SubmitOptions {
  timeoutMs?: number | undefined;
  /** -100…100, higher first; 0 when absent. */
  priority?: number | undefined;
  /** WAITING this long after the submit, then QUEUED. */
  delayMs?: number | undefined;
  /** Not started this long after the submit: FAILED with DeadlineExceededError. */
  deadlineMs?: number | undefined;
  /** The function's default when absent. */
  retry?: RetryPolicy | undefined;
  /** Added to the function's: the task runs only on a worker with all of them. */
  labels?: readonly string[] | undefined;
  /** One per payload: a key seen before returns the task stored under it. */
  idempotencyKeys?: readonly string[] | undefined;
  /** The submitting client's tenant (undefined: `default`); the function must be its own. */
  tenant?: string | undefined;
}

/** What POST /register_function takes beside the name and source. */
export interface FunctionOptions {
  timeoutMs?: number | undefined;
  retry?: RetryPolicy | undefined;
  labels?: readonly string[] | undefined;
  concurrency?: number | undefined;
  /** The registering client's tenant (undefined: `default`): the function is its own. */
  tenant?: string | undefined;
}

export interface Submitted {
  /** Task ids in the order of the payloads. */
  ids: string[];
  /** False when every payload repeated an idempotency key (nothing new was stored). */
  stored: boolean;
  /** Positions whose idempotency key was already taken: their ids are earlier tasks'. */
  repeated: ReadonlySet<number>;
}

export interface TaskView {
  task_id: string;
  status: TaskStatus;
  result?: string;
}

export interface TaskServiceDeps {
  store: TaskStore;
  waiters: ResultWaiters;
  functions: FunctionCache;
  dispatcher: Dispatcher;
  config: ServerConfig;
  metrics: GridMetrics;
  /** A tokens file is in use (server/tenants.ts): every read checks whose a task is. */
  tenants?: boolean;
}

export class TaskService {
  readonly #store: TaskStore;
  readonly #waiters: ResultWaiters;
  readonly #functions: FunctionCache;
  readonly #dispatcher: Dispatcher;
  readonly #metrics: GridMetrics;
  readonly #config: ServerConfig;
  readonly #recent = new Map<string, TaskOutcome>();
  readonly #tenants: boolean;
  #accepting = true;

  constructor(deps: TaskServiceDeps) {
    this.#store = deps.store;
    this.#waiters = deps.waiters;
    this.#functions = deps.functions;
    this.#dispatcher = deps.dispatcher;
    this.#config = deps.config;
    this.#metrics = deps.metrics;
    this.#tenants = deps.tenants === true;
  }

  /**
   * Keeps outcomes this server just stored, so the long-poll that usually
   * follows a submit can answer without a store round trip. Small values only.
   */
  keepRecent(outcomes: readonly TaskOutcome[]): void {
    for (const outcome of outcomes) {
      if (outcome.value.length > RECENT_VALUE_BYTES) continue;
      this.#recent.set(outcome.id, outcome);
      if (this.#recent.size > RECENT_OUTCOMES) {
        const oldest = this.#recent.keys().next().value;
        if (oldest !== undefined) this.#recent.delete(oldest);
      }
    }
  }

  /** A task kept as finished runs again (retried on any server): forget its outcome. */
  forget(id: string): void {
    this.#recent.delete(id);
  }

  /** After this, submits answer 503 (the server is draining). */
  stopAccepting(): void {
    this.#accepting = false;
  }

  async register(name: string, payload: string, options: FunctionOptions = {}): Promise<string> {
    this.#checkAccepting();
    const limit = this.#config.limits.functionBytes;
    if (Buffer.byteLength(payload) > limit) {
      throw new TooLargeError(`Function source is larger than the limit of ${limit} bytes`);
    }
    const source = await sharedFunctionChecker().check(payload);
    const fn = {
      id: uuidv4(),
      name,
      source,
      created_at: Date.now(),
      timeout_ms: options.timeoutMs,
      retry: options.retry,
      labels: options.labels && normaliseLabels(options.labels),
      concurrency: options.concurrency,
      tenant: options.tenant,
    };
    await this.#store.registerFunction(fn);
    this.#functions.add(fn);
    return fn.id;
  }

  /**
   * Deletes a function: its QUEUED and WAITING tasks become CANCELLED (how
   * many is the answer), later submits 404, running tasks finish.
   */
  async deleteFunction(id: string, tenant?: string): Promise<number> {
    if (!isUuid(id)) throw new BadIdError('function_id', id);
    // Whose it is never changes: a read before the delete decides for good.
    const owned = await this.#store.getFunction(id);
    if (!owned || owned.tenant !== tenant) throw new NotFoundError(`No function with id ${id}`);
    this.#functions.delete(id);
    const result = await this.#store.deleteFunction(id);
    if (!result) throw new NotFoundError(`No function with id ${id}`);
    this.#metrics.cancelled(result.cancelled.length);
    return result.cancelled.length;
  }

  /** The functions of `tenant` (undefined: `default`). */
  async functions(tenant?: string): Promise<FunctionSummary[]> {
    const all = await this.#store.listFunctions();
    return all.filter((fn) => fn.tenant === tenant).map(functionSummary);
  }

  async function(id: string, tenant?: string): Promise<FunctionSummary & { source: string }> {
    if (!isUuid(id)) throw new BadIdError('function_id', id);
    const fn = await this.#store.getFunction(id);
    if (!fn || fn.tenant !== tenant) throw new NotFoundError(`No function with id ${id}`);
    return { ...functionSummary(fn), source: fn.source };
  }

  /** GET /task/:id: the whole record, result included. */
  async task(id: string, tenant?: string): Promise<TaskDetail> {
    const detail = taskDetail(await this.#get(id, tenant), true);
    const labels = detail.labels;
    // Workers of this server only: one with these labels on another server would take it there.
    if (detail.status === 'QUEUED' && labels !== undefined) {
      // A worker of one tenant runs only that tenant's tasks (tenants.ts).
      const can = this.#dispatcher
        .workers()
        .some(
          (w) =>
            (w.tenant === undefined || w.tenant === tenant) &&
            labels.every((l) => w.labels.includes(l)),
        );
      if (!can) detail.waiting_for = `a worker with labels ${labels.join(', ')}`;
    }
    return detail;
  }

  /** GET /tasks: one page, newest first, without results; only `query.tenant`'s tasks. */
  async tasks(query: TaskQuery): Promise<{ tasks: TaskDetail[]; next_cursor?: string }> {
    const page = await this.#store.listTasks(query);
    const tasks = page.tasks.map((t) => taskDetail(t, false));
    return page.next_cursor === undefined ? { tasks } : { tasks, next_cursor: page.next_cursor };
  }

  /** A FAILED or CANCELLED task runs again under the same id. */
  async retry(id: string, tenant?: string): Promise<TaskView> {
    if (!isUuid(id)) throw new BadIdError('task_id', id);
    this.#checkAccepting();
    // Whose it is never changes: a read before the retry decides for good.
    await this.#get(id, tenant);
    const result = await this.#store.retryTask(id);
    if (!result) throw new NotFoundError(`No task with id ${id}`);
    if (!result.changed) {
      throw new ConflictError(
        `Task ${id} is ${result.previous}; only a FAILED or CANCELLED task can be retried`,
      );
    }
    return { task_id: id, status: 'QUEUED' };
  }

  async submit(
    functionId: string,
    payloads: readonly (string | Buffer)[],
    options: SubmitOptions = {},
  ): Promise<Submitted> {
    this.#checkAccepting();
    const keys = options.idempotencyKeys;
    if (keys) checkIdempotencyKeys(keys, payloads.length);
    const { batchLength, argsBytes } = this.#config.limits;
    if (payloads.length > batchLength) {
      throw new TooLargeError(
        `A batch holds at most ${batchLength} payloads, got ${payloads.length}`,
      );
    }
    // Tasks whose arguments take other tasks' results (`{"$task": id}`), by position.
    let refs: (TaskReference[] | undefined)[] | undefined;
    // What each task stores: the payload as it came (bytes stay bytes), or its text when its
    // references are to be found in it later.
    const stored = payloads.map((payload, i) => {
      checkPayloadSize(payload, argsBytes);
      // Bytes vouched for as they are (no reference, no lone surrogate) are stored as they came,
      // never decoded: for large arguments the decode, JSON.parse and the collector after them
      // were over half the server's CPU.
      if (typeof payload !== 'string' && isUtf8(payload) && isPlainJsonArray(payload)) {
        return payload;
      }
      const text = payloadText(payload);
      const found = findReferences(text, parseArgsPayload(text));
      if (!found) return payload;
      refs ??= [];
      refs[i] = found;
      return text;
    });
    const defaults = await this.#checkFunction(functionId, options.tenant);
    if (refs) await checkDependencies(this.#store, refs, options.tenant);
    const now = Date.now();
    const timeout = options.timeoutMs ?? defaults.timeoutMs ?? this.#config.taskTimeoutMs;
    const retry = options.retry ?? defaults.retry;
    const runAt = options.delayMs ? now + options.delayMs : undefined;
    const deadlineAt = options.deadlineMs === undefined ? undefined : now + options.deadlineMs;
    const lane = laneOf(functionId, defaults, options.labels);
    const idempotency = (i: number) =>
      keys === undefined ? undefined : tenantKey(keys[i] as string, options.tenant);
    // The store picks the ids: a sharded one names each task's shard in it.
    const ids = this.#store.newTaskIds(
      payloads.map((_, i) => ({ lane, idempotency_key: idempotency(i) })),
    );
    const tasks: NewTask[] = stored.map((args, i) => ({
      id: ids[i] as string,
      function_id: functionId,
      args,
      timeout_ms: timeout,
      created_at: now,
      idempotency_key: idempotency(i),
      priority: options.priority,
      run_at: runAt,
      deadline_at: deadlineAt,
      retry,
      lane,
      tenant: options.tenant,
    }));
    if (refs) withDependencies(tasks, refs);
    const { duplicates } = await this.#dispatcher.submit(tasks);
    this.#metrics.submitted(tasks.length - duplicates.size, options.tenant);
    return {
      ids: tasks.map((t, i) => duplicates.get(i) ?? t.id),
      stored: duplicates.size < tasks.length,
      repeated: new Set(duplicates.keys()),
    };
  }

  async status(id: string, tenant?: string): Promise<TaskView> {
    const task = await this.#get(id, tenant);
    return { task_id: id, status: task.status };
  }

  /**
   * The task's view; with `waitMs`, waits (woken, not polling) until it is
   * terminal. A wake without the outcome (another server stored it, or events
   * may have been missed) reads the task again, and waits on if it is not
   * finished; a read the store cannot answer is tried again until the wait ends.
   */
  async result(id: string, waitMs = 0, tenant?: string): Promise<TaskView> {
    if (!isUuid(id)) throw new BadIdError('task_id', id);
    // An outcome kept here does not say whose task it was: with tenants, the store decides.
    const known = this.#tenants ? undefined : this.#recent.get(id);
    if (known) return outcomeView(known);
    if (waitMs <= 0) return view(await this.#get(id, tenant));
    return this.#wait(id, waitMs, true, tenant);
  }

  /**
   * For a submit with `?wait`: the view of a task just submitted once it is
   * terminal within `waitMs`, else undefined. `fresh`: this call stored it
   * (not a repeat), so it cannot have finished yet and the first store read is
   * skipped. Never rejects: the task is stored whatever happens here, so a
   * wait that fails (store away, too many parked waits) only means the caller
   * is answered with the id, as without `?wait`.
   */
  async finishedWithin(
    id: string,
    waitMs: number,
    fresh: boolean,
    tenant?: string,
  ): Promise<TaskView | undefined> {
    try {
      // The id came from this caller's own submit: an outcome kept here is its tenant's.
      const known = this.#recent.get(id);
      const task = known ? outcomeView(known) : await this.#wait(id, waitMs, !fresh, tenant);
      return isTerminal(task.status) ? task : undefined;
    } catch {
      return undefined;
    }
  }

  /** `readFirst` also checks that the task is `tenant`'s; without it, the caller knows it is. */
  async #wait(id: string, waitMs: number, readFirst: boolean, tenant?: string): Promise<TaskView> {
    const deadline = Date.now() + Math.min(waitMs, MAX_WAIT_MS);
    for (let read = readFirst; ; read = true) {
      const waiter = this.#waiters.wait(id, Math.max(0, deadline - Date.now()));
      let end: WaitEnd;
      try {
        if (read) {
          const task = await this.#getUntil(id, deadline, tenant);
          if (isTerminal(task.status) || Date.now() >= deadline) return view(task);
        }
        end = await waiter.promise;
      } finally {
        waiter.cancel();
      }
      // The outcome this process just stored is the answer: no need to read it back.
      if (end.outcome) return outcomeView(end.outcome);
      if (!end.finished)
        return view(await this.#getUntil(id, deadline + READ_RETRY_MS * 5, tenant));
    }
  }

  async cancel(id: string, tenant?: string): Promise<TaskView> {
    if (!isUuid(id)) throw new BadIdError('task_id', id);
    // Whose it is never changes: a read before the cancel decides for good.
    await this.#get(id, tenant);
    const result = await this.#store.cancel(id);
    if (!result) throw new NotFoundError(`No task with id ${id}`);
    if (!result.changed) {
      throw new ConflictError(
        `Task ${id} already finished as ${result.previous}; nothing to cancel`,
      );
    }
    this.#metrics.cancelled(1, tenant);
    return { task_id: id, status: 'CANCELLED' };
  }

  /** #get, tried again while the store is unreachable and the deadline is ahead. */
  async #getUntil(id: string, deadline: number, tenant: string | undefined): Promise<TaskRecord> {
    for (;;) {
      try {
        return await this.#get(id, tenant);
      } catch (error) {
        if (!(error instanceof UnavailableError) || Date.now() + READ_RETRY_MS > deadline) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, READ_RETRY_MS));
      }
    }
  }

  /** The task, if it is `tenant`'s (undefined: `default`); another tenant's is not found. */
  async #get(id: string, tenant: string | undefined): Promise<TaskRecord> {
    if (!isUuid(id)) throw new BadIdError('task_id', id);
    const task = await this.#store.getTask(id);
    if (!task || task.tenant !== tenant) throw new NotFoundError(`No task with id ${id}`);
    return task;
  }

  /** Throws NotFoundError for an unknown function or another tenant's; returns its defaults. */
  async #checkFunction(id: string, tenant: string | undefined): Promise<FunctionDefaults> {
    const fn = isUuid(id) ? await this.#functions.lookup(id) : undefined;
    if (!fn || fn.tenant !== tenant)
      throw new NotFoundError(`No function with id ${id.slice(0, 64)}; register it first`);
    return fn;
  }

  #checkAccepting(): void {
    if (!this.#accepting)
      throw new UnavailableError('The server is shutting down; submit elsewhere');
  }
}

/**
 * The lane a function's tasks go to (lanes.ts): by its labels and the
 * task's, and by the function when it limits how many run at once.
 * Undefined for the default lane.
 */
function laneOf(
  functionId: string,
  defaults: FunctionDefaults,
  taskLabels: readonly string[] | undefined,
): { id: string; limit: number } | undefined {
  const labels = normaliseLabels([...defaults.labels, ...(taskLabels ?? [])]);
  const limit = defaults.concurrency;
  const limited = limit === undefined ? undefined : { fn: functionId, limit };
  // A tenant's tasks are in its own lanes: fair dispatch weighs lanes by tenant (tenants.ts).
  const id = laneId({ tenant: defaults.tenant, labels, limited });
  return id === DEFAULT_LANE ? undefined : { id, limit: limit ?? 0 };
}

function checkPayloadSize(payload: string | Buffer, argsBytes: number): void {
  const tooLarge =
    typeof payload === 'string'
      ? payload.length > argsBytes && Buffer.byteLength(payload) > argsBytes
      : payload.length > argsBytes;
  if (tooLarge) {
    throw new TooLargeError(`An argument payload is larger than the limit of ${argsBytes} bytes`);
  }
}

/** A payload's text; bytes must be UTF-8 as they are (decoding would put U+FFFD where the stored bytes differ). */
function payloadText(payload: string | Buffer): string {
  if (typeof payload === 'string') return payload;
  if (!isUtf8(payload)) {
    throw new BadPayloadError('Expected `payload` to be UTF-8 text (its bytes are not)');
  }
  return payload.toString('utf8');
}

function checkIdempotencyKeys(keys: readonly string[], count: number): void {
  if (keys.length !== count) {
    throw new BadPayloadError(
      `Expected one idempotency key per payload (${count}), got ${keys.length}`,
    );
  }
  if (new Set(keys).size !== keys.length) {
    throw new BadPayloadError('Expected each idempotency key of a batch to be different');
  }
  for (const key of keys) {
    if (!isWellFormed(key)) {
      throw new BadPayloadError('Expected an idempotency key of well-formed Unicode text');
    }
  }
}

/**
 * The key an idempotency key is stored under: as given for `default` (as
 * before tenants), else in the tenant's own space, so two tenants' equal keys
 * never meet. One-to-one: a tenant's starts with NUL and a name (no NUL);
 * a `default` key that starts with NUL gets a second one.
 */
function tenantKey(key: string, tenant: string | undefined): string {
  if (tenant !== undefined) return `\u0000${tenant}\u0000${key}`;
  return key.startsWith('\u0000') ? `\u0000\u0000${key}` : key;
}

/** Marks the tasks whose arguments take other tasks' results: the store holds them WAITING. */
function withDependencies(tasks: NewTask[], refs: readonly (TaskReference[] | undefined)[]): void {
  refs.forEach((list, i) => {
    const task = tasks[i];
    if (!list || !task) return;
    task.depends_on = referencedIds(list);
    task.refs = list;
  });
}

function view(task: TaskRecord): TaskView {
  const out: TaskView = { task_id: task.id, status: task.status };
  if ((task.status === 'COMPLETED' || task.status === 'FAILED') && task.result !== undefined) {
    out.result = task.result;
  }
  return out;
}

function outcomeView(outcome: TaskOutcome): TaskView {
  const out: TaskView = { task_id: outcome.id, status: outcome.status };
  if (outcome.status !== 'CANCELLED') out.result = outcome.value;
  return out;
}
