/**
 * Every Redis key taskgrid uses, under one prefix (default `taskgrid:`). Lua
 * scripts that reach keys they cannot be given up front (the task hashes of
 * ids popped from the queue) get the key heads built here as arguments, so no
 * key name is written twice.
 */

import { progressFromText } from './task-hash.js';
import type { Progress } from './task-store.js';

/** The part after the prefix that starts each kind of per-id key. */
export const KEY_PARTS = {
  task: 'task:',
  fn: 'fn:',
  instance: 'instance:',
  idempotency: 'idem:',
  laneQueue: 'lq:',
  lanePrio: 'lp:',
  schedule: 'schedule:',
} as const;

/**
 * What follows a task's key to name the SET of tasks that wait for its
 * result (lua/dependencies.ts): the scripts that end a task build that key
 * from the task head they already get, so no script takes a new argument.
 */
export const DEPENDENTS_SUFFIX = ':dependents';

/**
 * What follows a task's key to name the SET of shards whose tasks wait for
 * its result (a sharded store: lua/remote-dependencies.ts), and what follows
 * the task head to name a shard's outbox, the LIST of messages to other
 * shards: built from the task head, as DEPENDENTS_SUFFIX is.
 */
export const REMOTE_SUFFIX = ':remote';
export const OUTBOX_AFTER_HEAD = '~outbox';

/**
 * A message on the events channel, as the Lua scripts publish it:
 * `<instance> q` (`q p <n>` when some have a priority, the highest being n), `<instance> f <id,id,...>`, `<instance> c <id> <owner>` or
 * `<instance> l <lane>` (a lane came into use), `<instance> r <id>` (a finished task runs again) or `<instance> w <ms>` (a task waits until then: a delay, a backoff or a
 * deadline), or
 * `<instance> p <id> <progress JSON>` (the JSON may hold spaces: it is the rest), or
 * `* o` (a sharded store's shard has messages for other shards in its outbox).
 * The instance `*` is every server's, the publisher's too: a
 * script that any server may run (a claim that found a deadline passed)
 * publishes its outcomes that way, so none is announced twice. The schedule
 * store publishes `<instance> s` when it adds or deletes a schedule.
 */
export type EventMessage =
  | { instance: string; kind: 'queued'; priority: number }
  | { instance: string; kind: 'due'; at: number }
  /** A lane came into use (lanes.ts): every server should learn who may take from it. */
  | { instance: string; kind: 'lane'; lane: string }
  /** A finished task runs again (POST /task/:id/retry): its outcome is no longer final. */
  | { instance: string; kind: 'retried'; id: string }
  | { instance: string; kind: 'finished'; ids: string[] }
  | { instance: string; kind: 'cancelled'; id: string; owner: string | undefined }
  | { instance: string; kind: 'progress'; id: string; progress: Progress }
  | { instance: string; kind: 'schedules' }
  | { instance: string; kind: 'outbox' };

export function parseEventMessage(message: string): EventMessage | undefined {
  const [instance = '', kind, rest = '', owner = ''] = message.split(' ', 4);
  if (kind === 'p') return progressEvent(message, instance, rest);
  if (kind === 'q') {
    const priority = rest === 'p' && /^-?\d{1,3}$/.test(owner) ? Number(owner) : 0;
    return { instance, kind: 'queued', priority };
  }
  if (kind === 'f') return { instance, kind: 'finished', ids: rest.split(',') };
  if (kind === 'c') return { instance, kind: 'cancelled', id: rest, owner: owner || undefined };
  if (kind === 'r') return { instance, kind: 'retried', id: rest };
  if (kind === 'l') return { instance, kind: 'lane', lane: rest };
  if (kind === 'w' && /^\d{1,16}$/.test(rest)) return { instance, kind: 'due', at: Number(rest) };
  if (kind === 's') return { instance, kind: 'schedules' };
  if (kind === 'o') return { instance, kind: 'outbox' };
  return undefined;
}

function progressEvent(message: string, instance: string, id: string): EventMessage | undefined {
  // instance, ' p ', id, ' ': the JSON is what follows.
  const json = message.slice(instance.length + 3 + id.length + 1);
  try {
    const progress = progressFromText(json, `progress event of ${id}`);
    return progress && { instance, kind: 'progress', id, progress };
  } catch {
    return undefined; // not ours to act on
  }
}

export class RedisKeys {
  readonly prefix: string;
  /** LIST of QUEUED task ids of priority 0, FIFO: RPUSH to submit, LPOP to claim. */
  readonly queue: string;
  /** ZSET of QUEUED task ids of other priorities (see lua/claim.ts for the score). */
  readonly prio: string;
  /** ZSET of WAITING task ids by when they become QUEUED (ms since epoch). */
  readonly delayed: string;
  /** ZSET of not yet started task ids by their deadline (ms since epoch). */
  readonly deadlines: string;
  /** ZSET of every retained task id by `seq`: what GET /tasks pages through. */
  readonly index: string;
  /** ZSET of FAILED task ids by `seq`: the dead-letter view. */
  readonly failed: string;
  /** STRING counter: each stored task takes the next value (FIFO order, index score). */
  readonly seq: string;
  /** ZSET of registered function ids by creation time. */
  readonly functions: string;
  /** HASH of lanes other than the default (lanes.ts): lane id → concurrency limit (0: none). */
  readonly lanes: string;
  /** HASH of RUNNING counts of functions with a concurrency limit: function id → count. */
  readonly running: string;
  /** ZSET of lanes by virtual time (tasks taken ÷ weight): the fair share so far. */
  readonly laneVt: string;
  /** STRING: the virtual time of the lane served last (where a lane that wakes up starts). */
  readonly vtNow: string;
  /** Heads of a lane's LIST (priority 0) and ZSET (other priorities) keys. */
  readonly laneQueueHead: string;
  readonly lanePrioHead: string;
  /** ZSET of RUNNING task ids scored by lease expiry (ms since epoch). */
  readonly leases: string;
  /** Pub/sub channel that wakes dispatchers and long-polls on every server. */
  readonly events: string;
  /** Head of every task key: the task key of an id is this and the id (scripts get it as ARGV). */
  readonly taskHead: string;
  /** Head of every server instance's liveness key. */
  readonly instanceHead: string;
  /** Head of every idempotency key. */
  readonly idempotencyHead: string;
  /** ZSET of schedule ids scored by their next_run_at (ms since epoch). */
  readonly schedules: string;
  /** ZSET of fires won and not yet stored (`<schedule id>/<slot>`), scored by lease end (ms). */
  readonly scheduleFires: string;
  /** LIST of messages to other shards (a sharded store; lua/remote-dependencies.ts). */
  readonly outbox: string;
  /** STRING: the server relaying this shard's outbox now (with a TTL). */
  readonly relayLock: string;
  /** Head of every function key (scripts get it as ARGV). */
  readonly functionHead: string;
  readonly #scheduleHead: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.queue = `${prefix}queue`;
    this.leases = `${prefix}leases`;
    this.prio = `${prefix}prio`;
    this.delayed = `${prefix}delayed`;
    this.deadlines = `${prefix}deadlines`;
    this.index = `${prefix}index`;
    this.failed = `${prefix}failed`;
    this.seq = `${prefix}seq`;
    this.functions = `${prefix}functions`;
    this.lanes = `${prefix}lanes`;
    this.running = `${prefix}running`;
    this.laneVt = `${prefix}lane-vt`;
    this.vtNow = `${prefix}vt-now`;
    this.laneQueueHead = `${prefix}${KEY_PARTS.laneQueue}`;
    this.lanePrioHead = `${prefix}${KEY_PARTS.lanePrio}`;
    this.events = `${prefix}events`;
    this.taskHead = `${prefix}${KEY_PARTS.task}`;
    this.instanceHead = `${prefix}${KEY_PARTS.instance}`;
    this.idempotencyHead = `${prefix}${KEY_PARTS.idempotency}`;
    this.functionHead = `${prefix}${KEY_PARTS.fn}`;
    this.schedules = `${prefix}schedules`;
    this.scheduleFires = `${prefix}schedule-fires`;
    this.#scheduleHead = `${prefix}${KEY_PARTS.schedule}`;
    this.outbox = `${this.taskHead}${OUTBOX_AFTER_HEAD}`;
    this.relayLock = `${prefix}relay-lock`;
  }

  /** HASH of one task (see task-hash.ts for its fields). */
  task(id: string): string {
    return `${this.taskHead}${id}`;
  }

  /** SET of the ids of WAITING tasks that take task `id`'s result as an argument. */
  dependents(id: string): string {
    return `${this.taskHead}${id}${DEPENDENTS_SUFFIX}`;
  }

  /** STRING with a TTL while server instance `id` is alive. */
  instance(id: string): string {
    return `${this.instanceHead}${id}`;
  }

  /** STRING: id of the task stored under an idempotency key (with a TTL). */
  idempotency(key: string): string {
    return `${this.idempotencyHead}${key}`;
  }

  /** HASH of one registered function (see function-hash.ts for its fields). */
  fn(id: string): string {
    return `${this.functionHead}${id}`;
  }

  /** HASH of one schedule (see schedule-hash.ts for its fields). */
  schedule(id: string): string {
    return `${this.#scheduleHead}${id}`;
  }
}
