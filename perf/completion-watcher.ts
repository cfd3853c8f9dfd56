/**
 * Learns when tasks finish from the server's events channel (as several
 * servers on one Redis do), recording the moment each id is announced, so
 * the harness never has to poll thousands of tasks while it measures.
 */

import { createClient } from 'redis';
import { parseEventMessage } from '../server/store/redis-keys.js';

function connect(url: string) {
  return createClient({ url });
}

export class CompletionWatcher {
  readonly #finishedAt = new Map<string, number>();
  readonly #client: ReturnType<typeof connect>;
  #waiting: { ids: readonly string[]; resolve: () => void } | undefined;

  private constructor(client: ReturnType<typeof connect>) {
    this.#client = client;
  }

  static async start(url: string, prefix: string): Promise<CompletionWatcher> {
    const client = connect(url);
    client.on('error', () => {});
    await client.connect();
    const watcher = new CompletionWatcher(client);
    await client.subscribe(`${prefix}events`, (message) => watcher.#onMessage(message));
    return watcher;
  }

  finishedAt(id: string): number | undefined {
    return this.#finishedAt.get(id);
  }

  /** Resolves when every id has been announced as finished. */
  async waitFor(ids: readonly string[], timeoutMs: number): Promise<void> {
    if (this.#allDone(ids)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = ids.filter((id) => !this.#finishedAt.has(id)).length;
        reject(
          new Error(`${missing} of ${ids.length} tasks did not finish within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#waiting = {
        ids,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => this.#client.destroy());
  }

  #onMessage(message: string): void {
    const event = parseEventMessage(message);
    if (event?.kind !== 'finished') return;
    const now = performance.now();
    for (const id of event.ids) this.#finishedAt.set(id, now);
    if (this.#waiting && this.#allDone(this.#waiting.ids)) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve();
    }
  }

  #allDone(ids: readonly string[]): boolean {
    // Checking the last id first skips the full scan while the run is far from done.
    const last = ids[ids.length - 1];
    if (last !== undefined && !this.#finishedAt.has(last)) return false;
    return ids.every((id) => this.#finishedAt.has(id));
  }
}
