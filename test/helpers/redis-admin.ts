/**
 * A test's own connection to the test Redis, for the faults and the
 * read-back the audit used: CLIENT PAUSE, CLIENT KILL, refusing new
 * connections, and reading task hashes under a prefix.
 */

import { createClient } from 'redis';
import { RedisKeys } from '../../server/store/redis-keys.js';
import { killAll } from './processes.js';
import { testRedis, uniquePrefix } from './root-hooks.js';

function connectClient(url: string) {
  return createClient({ url });
}
type Client = ReturnType<typeof connectClient>;

export class RedisAdmin {
  readonly #client: Client;

  private constructor(client: Client) {
    this.#client = client;
  }

  static async connect(url: string): Promise<RedisAdmin> {
    const client = connectClient(url);
    client.on('error', () => {});
    await client.connect();
    return new RedisAdmin(client);
  }

  /** Pauses every client (ALL) or writers only (WRITE) for `ms`; answers at once. */
  async pause(ms: number, mode: 'ALL' | 'WRITE'): Promise<void> {
    await this.#client.sendCommand(['CLIENT', 'PAUSE', String(ms), mode]);
  }

  /** Closes every pub/sub connection (the servers' subscribers); returns how many. */
  async killPubsub(): Promise<number> {
    return Number(await this.#client.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
  }

  /** How many pub/sub connections there are now. */
  async pubsubClients(): Promise<number> {
    const list = String(await this.#client.sendCommand(['CLIENT', 'LIST', 'TYPE', 'pubsub']));
    return list.split('\n').filter((line) => line.trim() !== '').length;
  }

  async connectedClients(): Promise<number> {
    const info = String(await this.#client.sendCommand(['INFO', 'clients']));
    return Number(/connected_clients:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  }

  /** New connections past `n` are refused (existing ones stay). */
  async setMaxClients(n: number): Promise<void> {
    await this.#client.sendCommand(['CONFIG', 'SET', 'maxclients', String(n)]);
  }

  async maxClients(): Promise<number> {
    const reply = (await this.#client.sendCommand(['CONFIG', 'GET', 'maxclients'])) as unknown;
    const flat = Array.isArray(reply) ? reply : Object.entries(reply as object).flat();
    return Number(flat[1]);
  }

  /** Ids of every task hash under `prefix`. */
  async taskIds(prefix: string): Promise<string[]> {
    const ids: string[] = [];
    const head = new RedisKeys(prefix).taskHead;
    for await (const keys of this.#client.scanIterator({ MATCH: `${head}*`, COUNT: 1000 })) {
      for (const key of keys) ids.push(key.slice(head.length));
    }
    return ids;
  }

  /** The task's hash as stored (empty when there is none). */
  async task(prefix: string, id: string): Promise<Record<string, string>> {
    return (await this.#client.hGetAll(new RedisKeys(prefix).task(id))) as Record<string, string>;
  }

  /** Adds members to a sorted set (used to plant leases). */
  async zAdd(key: string, members: { score: number; value: string }[]): Promise<void> {
    await this.#client.zAdd(key, members);
  }

  async zCard(key: string): Promise<number> {
    return this.#client.zCard(key);
  }

  /** Deletes every key under `prefix` (large results should not outlive their test). */
  async dropPrefix(prefix: string): Promise<void> {
    for await (const keys of this.#client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await this.#client.unlink(keys);
    }
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => this.#client.destroy());
  }
}

/**
 * The hooks of a suite that faults the shared test Redis: one admin client
 * for the suite, a fresh key prefix per test, and after each test its
 * processes killed and its keys dropped.
 */
export function redisFaultHooks(): { readonly admin: RedisAdmin; readonly prefix: string } {
  let admin: RedisAdmin | undefined;
  let prefix = '';
  before(async () => {
    admin = await RedisAdmin.connect(testRedis().url);
  });
  after(async () => {
    await admin?.close();
  });
  beforeEach(() => {
    prefix = uniquePrefix();
  });
  afterEach(async () => {
    await killAll();
    await admin?.dropPrefix(prefix);
  });
  return {
    get admin(): RedisAdmin {
      if (!admin) throw new Error('the suite has not started');
      return admin;
    },
    get prefix(): string {
      return prefix;
    },
  };
}
