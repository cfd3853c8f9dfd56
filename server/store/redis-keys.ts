/**
 * Every Redis key taskgrid uses, under one prefix (default `taskgrid:`).
 * Lua scripts build task keys from the same prefix, passed as ARGV[1], with
 * the same `task:` and `fn:` parts defined here.
 */

export const TASK_PART = 'task:';
export const FUNCTION_PART = 'fn:';

/**
 * A message on the events channel, as the Lua scripts publish it:
 * `<instance> q`, `<instance> f <id,id,...>` or `<instance> c <id> <owner>`.
 */
export type EventMessage =
  | { instance: string; kind: 'queued' }
  | { instance: string; kind: 'finished'; ids: string[] }
  | { instance: string; kind: 'cancelled'; id: string; owner: string | undefined };

export function parseEventMessage(message: string): EventMessage | undefined {
  const [instance = '', kind, rest = '', owner = ''] = message.split(' ');
  if (kind === 'q') return { instance, kind: 'queued' };
  if (kind === 'f') return { instance, kind: 'finished', ids: rest.split(',') };
  if (kind === 'c') return { instance, kind: 'cancelled', id: rest, owner: owner || undefined };
  return undefined;
}

export class RedisKeys {
  readonly prefix: string;
  /** LIST of QUEUED task ids, FIFO: RPUSH to submit, LPOP to claim. */
  readonly queue: string;
  /** ZSET of RUNNING task ids scored by lease expiry (ms since epoch). */
  readonly leases: string;
  /** Pub/sub channel that wakes dispatchers and long-polls on every server. */
  readonly events: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.queue = `${prefix}queue`;
    this.leases = `${prefix}leases`;
    this.events = `${prefix}events`;
  }

  /** HASH of one task (see task-hash.ts for its fields). */
  task(id: string): string {
    return `${this.prefix}${TASK_PART}${id}`;
  }

  /** STRING with a TTL while server instance `id` is alive. */
  instance(id: string): string {
    return `${this.prefix}instance:${id}`;
  }

  /** STRING: id of the task stored under an idempotency key (with a TTL). */
  idempotency(key: string): string {
    return `${this.prefix}idem:${key}`;
  }

  /** HASH of one registered function: name, source, created. */
  fn(id: string): string {
    return `${this.prefix}${FUNCTION_PART}${id}`;
  }
}
