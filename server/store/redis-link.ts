/**
 * The connections a Redis store talks through: one Redis (a URL) or a Redis
 * Cluster (seed nodes). Either way a command client and a pub/sub client,
 * reconnecting on their own. On a cluster, events use sharded pub/sub
 * (SPUBLISH, SSUBSCRIBE): a message stays on the node that owns its
 * channel's slot instead of being broadcast over the cluster bus, and every
 * script publishes to the channel of its own shard, so it touches one slot.
 */

import { createHash } from 'node:crypto';
import { createClient, createCluster, MultiErrorReply } from 'redis';
import { type BackoffPolicy, backoffDelay } from '../../shared/backoff.js';
import { ConfigError } from '../../shared/errors.js';
import { withoutPassword } from '../../shared/transport-security.js';

type SingleClient = ReturnType<typeof createClient>;
type ClusterClient = ReturnType<typeof createCluster>;
/** Every command the stores send goes through one of these; both speak the same commands. */
export type RedisClient = SingleClient | ClusterClient;

export type RedisTarget =
  /** One Redis at a redis:// or rediss:// URL. */
  | { url: string }
  /** A Redis Cluster: some of its nodes as host:port; the rest are found from them. */
  | { cluster: readonly string[] };

export interface RedisLinkOptions {
  target: RedisTarget;
  /** How long the first connection may take before start-up fails. */
  connectTimeoutMs: number;
  onError?: ((error: Error) => void) | undefined;
}

export interface Script {
  source: string;
  sha: string;
}

/** One field of one hash, set by a plain HSET (runAfterWrites). */
export interface FieldWrite {
  key: string;
  field: string;
  value: string | Buffer;
}

/** A failed MULTI's first error (a script's NOSCRIPT or its own), not "1 commands failed". */
function scriptError(error: unknown): unknown {
  if (!(error instanceof MultiErrorReply)) return error;
  for (const reply of error.errors()) return reply;
  return error;
}

export function luaScript(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Redis reconnects: soon at first (a blip is the common case), never more than 2 s apart. */
const RECONNECT: BackoffPolicy = { baseMs: 100, maxMs: 2000 };

function reconnectDelay(retries: number): number {
  return backoffDelay(retries, RECONNECT);
}

export class RedisLink {
  readonly client: RedisClient;
  /** True on a cluster: events go by SPUBLISH/SSUBSCRIBE. */
  readonly sharded: boolean;
  /** Where it connects, without a password: for messages and logs. */
  readonly description: string;
  readonly #subscriber: RedisClient;
  readonly #options: RedisLinkOptions;
  readonly #resync = new Set<() => void>();
  /** Scripts as this link runs them (their publish command swapped on a cluster). */
  readonly #scripts = new Map<Script, Script>();
  #connected = false;
  #closed = false;
  /** The event connection was lost since it last subscribed: events may have been missed. */
  #eventsLost = false;

  constructor(options: RedisLinkOptions) {
    this.#options = options;
    const { target } = options;
    this.sharded = 'cluster' in target;
    this.description =
      'cluster' in target ? `cluster ${target.cluster.join(',')}` : withoutPassword(target.url);
    this.client = 'cluster' in target ? this.#cluster(target.cluster) : this.#single(target.url);
    this.client.on('error', (error: Error) => this.#options.onError?.(error));
    this.#subscriber = this.client.duplicate();
    this.#subscriber.on('error', () => {});
    // Pub/sub is fire and forget: what was published while a connection was
    // down is gone. Listeners are told to look again once it is back.
    const lost = () => {
      this.#eventsLost = true;
    };
    const back = () => {
      if (!this.#eventsLost) return;
      this.#eventsLost = false;
      // node-redis subscribes again on its own; give it a moment, then resync.
      setTimeout(() => {
        for (const listener of this.#resync) listener();
      }, 100).unref();
    };
    if (this.sharded) {
      this.#subscriber.on('node-disconnect', lost);
      this.#subscriber.on('node-reconnecting', lost);
      this.#subscriber.on('node-ready', back);
    } else {
      this.#subscriber.on('end', lost);
      this.#subscriber.on('reconnecting', lost);
      this.#subscriber.on('ready', back);
    }
  }

  get isReady(): boolean {
    return this.client.isReady;
  }

  /** Connects both clients; rejects with ConfigError when Redis does not answer. */
  async connect(): Promise<void> {
    try {
      await this.client.connect();
      this.#connected = true;
      await this.#subscriber.connect();
    } catch (error) {
      await this.close();
      const message = error instanceof Error ? error.message : String(error);
      if (message.startsWith('Redis at ')) throw new ConfigError(message);
      throw new ConfigError(`Redis at ${this.description} does not answer: ${message}`);
    }
  }

  /** Calls `handler` with each message on `channel` (a shard's own channel on a cluster). */
  async listen(channel: string, handler: (message: string) => void): Promise<void> {
    if (this.sharded) await this.#subscriber.sSubscribe(channel, handler);
    else await this.#subscriber.subscribe(channel, handler);
  }

  /** `listener` runs when events may have been missed (the event connection came back). */
  onResync(listener: () => void): void {
    this.#resync.add(listener);
  }

  /** Runs a Lua script, loading it on a node that does not know it yet. */
  async run(s: Script, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    const mine = this.#script(s);
    try {
      return await this.client.evalSha(mine.sha, { keys, arguments: args });
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.client.eval(mine.source, { keys, arguments: args });
    }
  }

  /**
   * Runs a Lua script in one MULTI after plain HSETs of hash fields too large
   * to pass through Lua (script-io.ts, BULK_ARGS_BYTES): all or nothing to
   * other clients. Each written key expires after `orphanTtlSeconds` unless
   * the script keeps it, so a script that never runs leaves nothing behind.
   * Returns the script's reply; the script's own error when it fails.
   */
  async runAfterWrites(
    s: Script,
    keys: string[],
    args: (string | Buffer)[],
    writes: readonly FieldWrite[],
    orphanTtlSeconds: number,
  ): Promise<unknown> {
    const mine = this.#script(s);
    const exec = async (bySource: boolean): Promise<unknown> => {
      const multi = this.client.multi();
      for (const w of writes) {
        multi.hSet(w.key, w.field, w.value);
        multi.expire(w.key, orphanTtlSeconds);
      }
      if (bySource) multi.eval(mine.source, { keys, arguments: args });
      else multi.evalSha(mine.sha, { keys, arguments: args });
      try {
        const replies = await multi.exec();
        return replies[replies.length - 1];
      } catch (error) {
        throw scriptError(error);
      }
    };
    try {
      return await exec(false);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return exec(true);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#resync.clear();
    for (const client of [this.#subscriber, this.client]) {
      if (client.isOpen) await client.close().catch(() => client.destroy());
      else client.destroy();
    }
  }

  #script(s: Script): Script {
    if (!this.sharded) return s;
    let mine = this.#scripts.get(s);
    if (!mine) {
      // Sharded pub/sub: the message stays on the node that owns the shard's slot.
      mine = luaScript(s.source.replaceAll("redis.call('PUBLISH'", "redis.call('SPUBLISH'"));
      this.#scripts.set(s, mine);
    }
    return mine;
  }

  #reconnect(retries: number, cause: Error, started: number): false | number | Error {
    if (this.#closed) return false;
    if (!this.#connected && Date.now() - started > this.#options.connectTimeoutMs) {
      return new ConfigError(`Redis at ${this.description} does not answer: ${cause.message}`);
    }
    return reconnectDelay(retries);
  }

  #single(url: string): SingleClient {
    const started = Date.now();
    return createClient({
      url,
      // Without an offline queue a command fails at once while Redis is away,
      // so a submit answers 503 instead of hanging.
      disableOfflineQueue: true,
      // Every command goes through the store's own timer (commandTimeoutMs), which decides
      // when Redis is too slow and what a late reply means; node-redis's own 5 s default armed
      // an AbortSignal.timeout per command (~1.7% of the server's CPU on one-call REST load).
      commandOptions: { timeout: 0 },
      socket: {
        connectTimeout: this.#options.connectTimeoutMs,
        reconnectStrategy: (retries, cause) => this.#reconnect(retries, cause, started),
      },
    });
  }

  #cluster(seeds: readonly string[]): ClusterClient {
    const started = Date.now();
    return createCluster({
      rootNodes: seeds.map((seed) => ({ url: `redis://${seed}` })),
      commandOptions: { timeout: 0 },
      defaults: {
        disableOfflineQueue: true,
        socket: {
          connectTimeout: this.#options.connectTimeoutMs,
          reconnectStrategy: (retries, cause) => this.#reconnect(retries, cause, started),
        },
      },
    });
  }
}
