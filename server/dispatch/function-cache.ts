/**
 * Function sources by id, least recently used dropped first once they take
 * more than `maxBytes`. A source never changes once registered, so any copy
 * is good; one that was dropped (or deleted, or registered on another
 * server) is read from the store again on the next task that needs it. A
 * function the store no longer has is simply left out: the thread then
 * fails that task, saying the function is unknown or was deleted.
 *
 * Size is counted as the source's length in UTF-16 units: what V8 stores
 * for one-byte text, half of it for two-byte text.
 */

import type { FunctionSource, TaskAssignment } from '../../shared/types.js';
import type { TaskStore } from '../store/task-store.js';

export class FunctionCache {
  readonly #store: TaskStore;
  readonly #maxBytes: number;
  /** Map order is recency: a hit moves the entry to the end, eviction takes from the front. */
  readonly #sources = new Map<string, string>();
  #bytes = 0;

  constructor(store: TaskStore, maxBytes: number) {
    this.#store = store;
    this.#maxBytes = maxBytes;
  }

  /** Bytes of source held now (tests and metrics). */
  get bytes(): number {
    return this.#bytes;
  }

  remember(id: string, source: string): void {
    this.forget(id);
    // A source larger than the whole cache is not kept: it would evict everything for one entry.
    if (source.length > this.#maxBytes) return;
    this.#sources.set(id, source);
    this.#bytes += source.length;
    for (const [oldId, old] of this.#sources) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#sources.delete(oldId);
      this.#bytes -= old.length;
    }
  }

  /** Drops a source (the function was deleted). */
  forget(id: string): void {
    const old = this.#sources.get(id);
    if (old === undefined) return;
    this.#sources.delete(id);
    this.#bytes -= old.length;
  }

  /** Sources of the functions these tasks call, except those in `skip`. */
  async forTasks(
    tasks: readonly TaskAssignment[],
    skip?: ReadonlySet<string>,
  ): Promise<FunctionSource[]> {
    const ids = new Set<string>();
    for (const task of tasks) if (!skip?.has(task.fn)) ids.add(task.fn);
    const out: FunctionSource[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const source = this.#sources.get(id);
      if (source === undefined) {
        missing.push(id);
        continue;
      }
      // Touch: most recently used moves to the end of the map.
      this.#sources.delete(id);
      this.#sources.set(id, source);
      out.push({ id, source });
    }
    const loaded = await Promise.all(missing.map((id) => this.#store.getFunction(id)));
    for (const fn of loaded) {
      if (!fn) continue;
      this.remember(fn.id, fn.source);
      out.push({ id: fn.id, source: fn.source });
    }
    return out;
  }
}
