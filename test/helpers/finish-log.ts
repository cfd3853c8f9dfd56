/**
 * Listens on a server's Redis events channel and records every task id the
 * store reported as finished, so a test can check that no task finished twice.
 */

import { createClient, createCluster } from 'redis';
import { parseEventMessage } from '../../server/store/redis-keys.js';
import { shardTag } from '../../server/store/shard-map.js';

function connectClient(url: string) {
  return createClient({ url });
}
function connectCluster(seeds: string) {
  return createCluster({ rootNodes: seeds.split(',').map((s) => ({ url: `redis://${s}` })) });
}
type Client = ReturnType<typeof connectClient> | ReturnType<typeof connectCluster>;

export class FinishLog {
  readonly counts = new Map<string, number>();
  readonly #client: Client;

  private constructor(client: Client) {
    this.#client = client;
  }

  static async start(url: string, prefix: string): Promise<FinishLog> {
    const client = connectClient(url);
    client.on('error', () => {});
    await client.connect();
    const log = new FinishLog(client);
    await client.subscribe(`${prefix}events`, (message) => log.#note(message));
    return log;
  }

  /** The same for a server sharded over a cluster: every shard's own channel. */
  static async startOnCluster(seeds: string, prefix: string, shards = 16): Promise<FinishLog> {
    const client = createCluster({
      rootNodes: seeds.split(',').map((s) => ({ url: `redis://${s}` })),
    });
    client.on('error', () => {});
    await client.connect();
    const log = new FinishLog(client);
    for (let s = 0; s < shards; s++) {
      await client.sSubscribe(`${prefix}{${shardTag(s, shards)}}:events`, (message) =>
        log.#note(message),
      );
    }
    return log;
  }

  #note(message: string): void {
    const event = parseEventMessage(message);
    if (event?.kind !== 'finished') return;
    for (const id of event.ids) this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  /** Waits (bounded) until `n` distinct ids were reported: the announcements may trail the REST answers. */
  async settle(n: number, timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.counts.size < n && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    return this.counts.size;
  }

  /** Ids reported finished more than once. */
  duplicates(): string[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([id]) => id);
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => this.#client.destroy());
  }
}
