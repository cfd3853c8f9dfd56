/**
 * The harness's own reads of the store, straight from Redis (never through
 * a server): who holds each running task's lease (sampled while the run
 * goes on), each task's final hash, and the tasks in the store that no
 * client was ever given an id for.
 */

import { createClient, createCluster } from 'redis';
import { RedisKeys } from '../../server/store/redis-keys.js';
import { shardOfId, shardTag } from '../../server/store/shard-map.js';
import type { History } from './history.js';
import type { TrackedTask } from './task-book.js';

function connectClient(url: string) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 1000, reconnectStrategy: () => 200 },
  });
}
function connectCluster(seeds: string) {
  return createCluster({
    rootNodes: seeds.split(',').map((s) => ({ url: `redis://${s}` })),
    defaults: { socket: { connectTimeout: 1000, reconnectStrategy: () => 200 } },
  });
}
type Client = ReturnType<typeof connectClient> | ReturnType<typeof connectCluster>;

/** Where the store keeps things: one Redis, or the shards of a cluster (the task's in its id). */
interface Layout {
  keysOf(id: string): RedisKeys;
  all: RedisKeys[];
  /** Redis servers to scan for keys: one, or every master. */
  scanUrls: string[];
}

/** A task that held a lease when the leases were read. */
export interface LeaseHolder {
  id: string;
  owner: string;
  attempt: number;
}

export interface StoredTask {
  id: string;
  nonce: string | undefined;
  status: string | undefined;
  attempts: number;
}

export class StoreReader {
  readonly #client: Client;
  readonly #layout: Layout;
  #sampling = false;

  private constructor(client: Client, layout: Layout) {
    this.#client = client;
    this.#layout = layout;
  }

  static async open(url: string, prefix: string): Promise<StoreReader> {
    const client = connectClient(url);
    client.on('error', () => {});
    await client.connect();
    const keys = new RedisKeys(prefix);
    return new StoreReader(client, { keysOf: () => keys, all: [keys], scanUrls: [url] });
  }

  /** The store a sharded server keeps on a cluster. */
  static async openCluster(seeds: string, prefix: string, shards: number): Promise<StoreReader> {
    const client = connectCluster(seeds);
    client.on('error', () => {});
    await client.connect();
    const all = Array.from(
      { length: shards },
      (_, s) => new RedisKeys(`${prefix}{${shardTag(s, shards)}}:`),
    );
    const scanUrls = client.masters.map((m) => `redis://${m.host}:${m.port}`);
    const keysOf = (id: string) => all[shardOfId(id, shards)] as RedisKeys;
    return new StoreReader(client, { keysOf, all, scanUrls });
  }

  #key(id: string): string {
    return this.#layout.keysOf(id).task(id);
  }

  /** Notes the lease owner and attempt of every task not yet seen terminal. */
  async sampleOwners(tasks: Iterable<TrackedTask>, history: History): Promise<void> {
    if (this.#sampling || !this.#client.isReady) return;
    this.#sampling = true;
    try {
      const open = [...tasks].filter((t) => !t.terminal);
      const start = Date.now();
      const rows = await Promise.all(
        open.map((t) => this.#client.hmGet(this.#key(t.id), ['status', 'attempts', 'owner'])),
      );
      open.forEach((task, i) => {
        const [status, attempts, owner] = rows[i] ?? [];
        if (!owner || status !== 'RUNNING') return;
        task.firstRunningAt ??= start;
        const attempt = Number(attempts ?? 0);
        if ((task.owners.get(owner) ?? -1) >= attempt) return;
        task.owners.set(owner, attempt);
        history.record({
          kind: 'owner',
          start,
          end: Date.now(),
          tasks: [task.id],
          status,
          detail: `owner ${owner} attempt ${attempt}`,
        });
      });
    } catch {
      // Redis is being faulted: the next sample will see it.
    } finally {
      this.#sampling = false;
    }
  }

  /**
   * Who holds each lease now: the leases ZSET, then each leased task's owner
   * and attempt. Its cost follows what is in flight, not how many tasks the
   * run has (the three-server run has 100,000; `sampleOwners` reads them all).
   */
  async leaseHolders(): Promise<LeaseHolder[]> {
    const ids = (
      await Promise.all(this.#layout.all.map((k) => this.#client.zRange(k.leases, 0, -1)))
    ).flat();
    const rows = await Promise.all(
      ids.map((id) => this.#client.hmGet(this.#key(id), ['status', 'attempts', 'owner'])),
    );
    const out: LeaseHolder[] = [];
    ids.forEach((id, i) => {
      const [status, attempts, owner] = rows[i] ?? [];
      if (owner && status === 'RUNNING') out.push({ id, owner, attempt: Number(attempts ?? 0) });
    });
    return out;
  }

  /** Reads each task's final hash into `task.final`, a few thousand at a time. */
  async readFinal(tasks: Iterable<TrackedTask>): Promise<void> {
    const all = [...tasks];
    // All at once, 100,000 reads queued behind a busy Redis outlive node-redis's 5 s command timeout.
    for (let from = 0; from < all.length; from += 5000) {
      await this.#readFinal(all.slice(from, from + 5000));
    }
  }

  async #readFinal(list: readonly TrackedTask[]): Promise<void> {
    const rows = await Promise.all(
      list.map((t) =>
        this.#client.hmGet(this.#key(t.id), [
          'status',
          'result',
          'attempts',
          'finished',
          'released',
          'started',
        ]),
      ),
    );
    list.forEach((task, i) => {
      const [status, result, attempts, finished, released, started] = rows[i] ?? [];
      task.final = {
        status: status ?? undefined,
        result: result ?? undefined,
        attempts: Number(attempts ?? 0),
        released: Number(released ?? 0),
        finished: finished ? Number(finished) : undefined,
        started: started ? Number(started) : undefined,
      };
    });
  }

  /** Tasks in the store whose id no client got back (from a 503, a reset, a retry). */
  async unacknowledged(accepted: ReadonlySet<string>): Promise<StoredTask[]> {
    const out: StoredTask[] = [];
    for (const url of this.#layout.scanUrls) {
      const scanner = connectClient(url);
      scanner.on('error', () => {});
      await scanner.connect();
      try {
        for (const keys of this.#layout.all) {
          const prefix = keys.task('');
          for await (const found of scanner.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
            for (const key of found) {
              const id = key.slice(prefix.length);
              if (accepted.has(id)) continue;
              out.push(await this.#stored(scanner, key, id));
            }
          }
        }
      } finally {
        await scanner.close().catch(() => scanner.destroy());
      }
    }
    return out;
  }

  async #stored(
    client: ReturnType<typeof connectClient>,
    key: string,
    id: string,
  ): Promise<StoredTask> {
    const [status, attempts, args] = await client.hmGet(key, ['status', 'attempts', 'args']);
    let nonce: string | undefined;
    try {
      const parsed = JSON.parse(args ?? '[]') as unknown[];
      nonce = typeof parsed[0] === 'string' ? parsed[0] : undefined;
    } catch {
      nonce = undefined;
    }
    return { id, nonce, status: status ?? undefined, attempts: Number(attempts ?? 0) };
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => this.#client.destroy());
  }
}
