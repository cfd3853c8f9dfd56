/**
 * The Redis TaskStore. The queue is a LIST of task ids (FIFO, durable), each
 * task a HASH, leases a ZSET by expiry; every multi-key change is one Lua
 * script or one MULTI. Completions, queue wake-ups and cancels are also
 * published on one channel so that several servers on one Redis wake each
 * other's long-polls and dispatchers.
 */

import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { ConfigError, UnavailableError, WorkerLostError } from '../../shared/errors.js';
import type { TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { CANCEL_LUA } from './lua/cancel.js';
import { CLAIM_LUA, ENQUEUE_CLAIM_LUA, ENQUEUE_LUA } from './lua/claim.js';
import { COMPLETE_LUA } from './lua/complete.js';
import { REQUEUE_LUA } from './lua/requeue.js';
import { STALE_LEASES_LUA } from './lua/stale-leases.js';
import { parseEventMessage, RedisKeys } from './redis-keys.js';
import { StoreEvents } from './store-events.js';
import { taskFromHash } from './task-hash.js';
import type {
  CancelResult,
  ClaimResult,
  FunctionRecord,
  LeaseReturn,
  NewTask,
  RequeueResult,
  StoreListener,
  TaskRecord,
  TaskStore,
} from './task-store.js';

export interface RedisStoreOptions {
  url: string;
  prefix?: string;
  /** Identifies this server in published events and lease owners. */
  instanceId: string;
  resultTtlSeconds?: number;
  /** A command that takes longer rejects with UnavailableError. */
  commandTimeoutMs?: number;
  /** How long the first connection may take before start-up fails. */
  connectTimeoutMs?: number;
  onError?: (error: Error) => void;
}

type Client = ReturnType<typeof createClient>;

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  claim: script(CLAIM_LUA),
  enqueue: script(ENQUEUE_LUA),
  enqueueClaim: script(ENQUEUE_CLAIM_LUA),
  complete: script(COMPLETE_LUA),
  requeue: script(REQUEUE_LUA),
  cancel: script(CANCEL_LUA),
  staleLeases: script(STALE_LEASES_LUA),
};

function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /closed|offline|socket|timeout|ECONN|EPIPE|not ready|reconnect/i.test(
    `${error.name} ${error.message}`,
  );
}

/**
 * The FAILED result of a task that reached the retry cap; requeue.lua puts the
 * attempt count in for %d. No stack: it would be the server's, not the task's.
 */
const WORKER_LOST_TEMPLATE = JSON.stringify({
  ...new WorkerLostError(0).toData(),
  message: new WorkerLostError(0).message.replace('lost 0 time(s)', 'lost %d time(s)'),
  stack: '',
});

/** New tasks as the one JSON argument the enqueue scripts take. */
function tasksJson(tasks: readonly NewTask[]): string {
  return JSON.stringify(
    tasks.map((t) => [t.id, t.function_id, t.args, String(t.timeout_ms), String(t.created_at)]),
  );
}

/** Parses the `{ popped, id, fn, args, attempt, timeout, created, ... }` reply of the claim scripts. */
function claimReply(raw: unknown, max: number): ClaimResult {
  const reply = raw as (string | number)[];
  const popped = Number(reply[0]);
  const tasks: TaskAssignment[] = [];
  const created: number[] = [];
  for (let i = 1; i + 5 < reply.length; i += 6) {
    tasks.push({
      id: String(reply[i]),
      fn: String(reply[i + 1]),
      args: String(reply[i + 2]),
      attempt: Number(reply[i + 3]),
      timeout_ms: Number(reply[i + 4]),
    });
    created.push(Number(reply[i + 5]));
  }
  return { tasks, created, drained: popped < max };
}

export class RedisStore implements TaskStore {
  readonly kind = 'redis';
  readonly keys: RedisKeys;
  readonly #client: Client;
  readonly #subscriber: Client;
  readonly #events = new StoreEvents();
  readonly #options: Required<Omit<RedisStoreOptions, 'onError'>> &
    Pick<RedisStoreOptions, 'onError'>;
  #connected = false;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    this.#options = {
      prefix: 'taskgrid:',
      resultTtlSeconds: 0,
      commandTimeoutMs: 2000,
      connectTimeoutMs: 3000,
      ...options,
    };
    this.keys = new RedisKeys(this.#options.prefix);
    const started = Date.now();
    this.#client = createClient({
      url: options.url,
      // Without an offline queue a command fails at once while Redis is away,
      // so a submit answers 503 instead of hanging.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: this.#options.connectTimeoutMs,
        reconnectStrategy: (retries, cause) => {
          if (this.#closed) return false;
          if (!this.#connected && Date.now() - started > this.#options.connectTimeoutMs) {
            return new ConfigError(`Redis at ${options.url} does not answer: ${cause.message}`);
          }
          // Exponential backoff with jitter, capped at 2 s.
          return Math.min(2000, 50 * 2 ** Math.min(retries, 6)) + Math.floor(Math.random() * 50);
        },
      },
    });
    this.#client.on('error', (error: Error) => this.#options.onError?.(error));
    this.#subscriber = this.#client.duplicate();
    this.#subscriber.on('error', () => {});
  }

  /** Connects both clients; rejects with ConfigError when Redis does not answer. */
  async connect(): Promise<void> {
    try {
      await this.#client.connect();
      this.#connected = true;
      await this.#subscriber.connect();
      await this.#subscriber.subscribe(this.keys.events, (message) => this.#onMessage(message));
    } catch (error) {
      await this.close();
      const message = (error as Error).message;
      if (error instanceof ConfigError || message.startsWith('Redis at ')) {
        throw new ConfigError(message);
      }
      throw new ConfigError(`Redis at ${this.#options.url} does not answer: ${message}`);
    }
  }

  async registerFunction(fn: FunctionRecord): Promise<void> {
    await this.#call(() =>
      this.#client.hSet(this.keys.fn(fn.id), {
        name: fn.name,
        source: fn.source,
        created: String(fn.created_at),
        ...(fn.timeout_ms ? { timeout: String(fn.timeout_ms) } : {}),
      }),
    );
  }

  async getFunction(id: string): Promise<FunctionRecord | undefined> {
    const raw = await this.#call(() => this.#client.hGetAll(this.keys.fn(id)));
    const record = raw as Record<string, string>;
    if (record.source === undefined) return undefined;
    return {
      id,
      name: record.name ?? '',
      source: record.source,
      created_at: Number(record.created),
    };
  }

  async deleteFunction(id: string): Promise<boolean> {
    return (await this.#call(() => this.#client.del(this.keys.fn(id)))) > 0;
  }

  async enqueue(tasks: readonly NewTask[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.#script(
      SCRIPTS.enqueue,
      [this.keys.queue, this.keys.events],
      [this.keys.prefix, tasksJson(tasks), this.#options.instanceId],
    );
    this.#events.emit({ type: 'queued' });
  }

  async enqueueAndClaim(
    tasks: readonly NewTask[],
    max: number,
    owner: string,
    leaseMs: number,
  ): Promise<ClaimResult> {
    const now = Date.now();
    const args = [
      this.keys.prefix,
      String(max),
      owner,
      String(now),
      String(now + leaseMs),
      this.#options.instanceId,
      tasksJson(tasks),
    ];
    const reply = await this.#script(
      SCRIPTS.enqueueClaim,
      [this.keys.queue, this.keys.leases, this.keys.events],
      args,
    );
    this.#events.emit({ type: 'queued' });
    return claimReply(reply, max);
  }

  async claim(max: number, owner: string, leaseMs: number): Promise<ClaimResult> {
    const now = Date.now();
    const reply = await this.#script(
      SCRIPTS.claim,
      [this.keys.queue, this.keys.leases],
      [this.keys.prefix, String(max), owner, String(now), String(now + leaseMs)],
    );
    return claimReply(reply, max);
  }

  async complete(outcomes: readonly TaskOutcome[]): Promise<string[]> {
    if (outcomes.length === 0) return [];
    const rows = outcomes.map((o) => [o.id, o.attempt, o.status, o.value, String(o.run_ms)]);
    const args = [
      this.keys.prefix,
      String(Date.now()),
      String(this.#options.resultTtlSeconds),
      this.#options.instanceId,
      JSON.stringify(rows),
    ];
    const applied = ((await this.#script(
      SCRIPTS.complete,
      [this.keys.leases, this.keys.events],
      args,
    )) ?? []) as string[];
    if (applied.length === 0) return applied;
    // Usually every outcome applies; only then is the filter skipped.
    const appliedIds = new Set(applied);
    const done =
      applied.length === outcomes.length ? outcomes : outcomes.filter((o) => appliedIds.has(o.id));
    this.#events.emit({ type: 'finished', ids: applied, outcomes: done });
    return applied;
  }

  async requeue(tasks: readonly LeaseReturn[], maxAttempts: number): Promise<RequeueResult> {
    if (tasks.length === 0) return { requeued: [], failed: [] };
    const args = [
      this.keys.prefix,
      String(Date.now()),
      String(maxAttempts),
      this.#options.instanceId,
      String(this.#options.resultTtlSeconds),
      WORKER_LOST_TEMPLATE,
    ];
    for (const t of tasks) args.push(t.id, String(t.attempt));
    const reply = (await this.#script(
      SCRIPTS.requeue,
      [this.keys.queue, this.keys.leases, this.keys.events],
      args,
    )) as string[];
    const split = reply.indexOf('|');
    const result = { requeued: reply.slice(0, split), failed: reply.slice(split + 1) };
    if (result.requeued.length > 0) this.#events.emit({ type: 'queued' });
    if (result.failed.length > 0) this.#events.emit({ type: 'finished', ids: result.failed });
    return result;
  }

  async renewLeases(ids: readonly string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return;
    const until = Date.now() + leaseMs;
    await this.#call(() =>
      this.#client.zAdd(
        this.keys.leases,
        ids.map((id) => ({ score: until, value: id })),
        { XX: true },
      ),
    );
  }

  async heartbeat(instanceId: string, ttlMs: number): Promise<void> {
    await this.#call(() => this.#client.set(this.keys.instance(instanceId), '1', { PX: ttlMs }));
  }

  async staleLeases(now: number, limit: number): Promise<LeaseReturn[]> {
    const reply = (await this.#script(
      SCRIPTS.staleLeases,
      [this.keys.leases],
      [this.keys.prefix, String(now), String(limit)],
    )) as string[];
    const out: LeaseReturn[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      out.push({ id: String(reply[i]), attempt: Number(reply[i + 1]) });
    }
    return out;
  }

  async cancel(id: string): Promise<CancelResult | undefined> {
    const reply = (await this.#script(
      SCRIPTS.cancel,
      [this.keys.queue, this.keys.leases, this.keys.events],
      [
        this.keys.prefix,
        id,
        String(Date.now()),
        this.#options.instanceId,
        String(this.#options.resultTtlSeconds),
      ],
    )) as [string, string, number] | null;
    if (!reply) return undefined;
    const owner = reply[1] || undefined;
    const result: CancelResult = {
      previous: reply[0] as CancelResult['previous'],
      owner,
      changed: Number(reply[2]) === 1,
    };
    if (result.changed) {
      this.#events.emit({ type: 'cancelled', id, owner });
      this.#events.emit({ type: 'finished', ids: [id] });
    }
    return result;
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const raw = await this.#call(() => this.#client.hGetAll(this.keys.task(id)));
    return taskFromHash(id, raw as Record<string, string>);
  }

  async queueDepth(): Promise<number> {
    return this.#call(() => this.#client.lLen(this.keys.queue));
  }

  async ping(): Promise<void> {
    await this.#call(() => this.#client.ping());
  }

  subscribe(listener: StoreListener): () => void {
    return this.#events.add(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.clear();
    for (const client of [this.#subscriber, this.#client]) {
      if (client.isOpen) await client.close().catch(() => client.destroy());
      else client.destroy();
    }
  }

  /** Events published by other servers on the same Redis and prefix. */
  #onMessage(message: string): void {
    const event = parseEventMessage(message);
    // This server's own events were already emitted locally, with their outcomes.
    if (!event || event.instance === this.#options.instanceId) return;
    if (event.kind === 'queued') this.#events.emit({ type: 'queued' });
    else if (event.kind === 'finished') this.#events.emit({ type: 'finished', ids: event.ids });
    else this.#events.emit({ type: 'cancelled', id: event.id, owner: event.owner });
  }

  async #script(s: Script, keys: string[], args: string[]): Promise<unknown> {
    return this.#call(async () => {
      try {
        return await this.#client.evalSha(s.sha, { keys, arguments: args });
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return this.#client.eval(s.source, { keys, arguments: args });
      }
    });
  }

  /** Runs a command, bounded in time; connection trouble becomes UnavailableError. */
  async #call<T>(run: () => Promise<T>): Promise<T> {
    if (!this.#client.isReady) throw new UnavailableError('Redis is unreachable; retry shortly');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new UnavailableError('Redis did not answer in time; retry shortly')),
        this.#options.commandTimeoutMs,
      );
    });
    try {
      return await Promise.race([run(), timeout]);
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      if (isConnectionError(error) || !this.#client.isReady) {
        throw new UnavailableError(
          `Redis is unreachable (${(error as Error).message}); retry shortly`,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
