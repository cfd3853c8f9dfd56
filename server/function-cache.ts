/**
 * What this server knows of registered functions: one record per function
 * id, serving both of its readers.
 *
 * - A submit needs to know that the function exists, and its default
 *   timeout (`lookup`). The store's word is trusted for CHECK_TTL_MS after
 *   it was last given, then asked again: a function deleted through another
 *   server is refused here (404) within that long.
 * - Dispatch needs sources (`forTasks`). A source never changes once
 *   registered, so any copy is good however old; one not held is read from
 *   the store. A function the store no longer has is left out (and
 *   forgotten): the thread then fails that task, saying the function is
 *   unknown or was deleted.
 *
 * A submit's read keeps the record, not the source: sources are held for
 * what this server dispatches. Bounded two ways: at most MAX_RECORDS
 * records, least recently used dropped; and sources within `maxSourceBytes`
 * (`--function-cache-mb`), least recently used dropped first while their
 * records stay. A source's size is counted as its length in UTF-16 units:
 * what V8 stores for one-byte text, half of it for two-byte text.
 */

import type { FunctionSource, TaskAssignment } from '../shared/types.js';
import type { FunctionRecord, RetryPolicy, TaskStore } from './store/task-store.js';
import { tenantName } from './tenants.js';

/** Functions whose record is kept, least recently used dropped. */
const MAX_RECORDS = 10_000;
/** How long the store's word that a function exists is trusted by submits. */
const CHECK_TTL_MS = 5_000;

/** What a submit takes from the function when the submit does not say. */
export interface FunctionDefaults {
  /** Default timeout of its tasks; the server's when undefined. */
  readonly timeoutMs: number | undefined;
  /** Default retry policy of its tasks; none when undefined. */
  readonly retry: RetryPolicy | undefined;
  /** Labels every task of it carries. */
  readonly labels: readonly string[];
  /** At most this many of its tasks RUNNING at once; no limit when undefined. */
  readonly concurrency: number | undefined;
  /** Whose it is (server/tenants.ts); undefined for `default`. */
  readonly tenant: string | undefined;
}

interface CachedFunction extends FunctionDefaults {
  /** When the store last said it exists (ms since the epoch). */
  readonly checkedAt: number;
  /** Undefined when not held (never read here, or dropped for room). */
  source: string | undefined;
}

function defaultsOf(fn: FunctionRecord): FunctionDefaults {
  return {
    timeoutMs: fn.timeout_ms,
    retry: fn.retry,
    labels: fn.labels ?? [],
    concurrency: fn.concurrency,
    tenant: fn.tenant,
  };
}

export class FunctionCache {
  readonly #store: TaskStore;
  readonly #maxSourceBytes: number;
  /** Map order is recency: a use moves the entry to the end, eviction takes from the front. */
  readonly #entries = new Map<string, CachedFunction>();
  #bytes = 0;

  constructor(store: TaskStore, maxSourceBytes: number) {
    this.#store = store;
    this.#maxSourceBytes = maxSourceBytes;
  }

  /** Bytes of source held now (tests and metrics). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps a function the store has just stored or returned: it exists now. */
  add(fn: FunctionRecord): void {
    this.#keep(fn.id, {
      ...defaultsOf(fn),
      checkedAt: Date.now(),
      source: fn.source,
    });
  }

  /** Forgets a function (it was deleted, or the store no longer has it). */
  delete(id: string): void {
    const old = this.#entries.get(id);
    if (!old) return;
    this.#entries.delete(id);
    this.#bytes -= old.source?.length ?? 0;
  }

  /**
   * The function's defaults, or undefined when the store has no such
   * function. Answered from memory while the last check is fresh, else read
   * from the store.
   */
  async lookup(id: string): Promise<FunctionDefaults | undefined> {
    const known = this.#entries.get(id);
    if (known && Date.now() - known.checkedAt < CHECK_TTL_MS) {
      this.#touch(id, known);
      const { timeoutMs, retry, labels, concurrency, tenant } = known;
      return { timeoutMs, retry, labels, concurrency, tenant };
    }
    const fn = await this.#store.getFunction(id);
    if (!fn) {
      this.delete(id);
      return undefined;
    }
    // The source stays as held (or not): see the header.
    const defaults = defaultsOf(fn);
    this.#keep(id, { ...defaults, checkedAt: Date.now(), source: known?.source });
    return defaults;
  }

  /**
   * The tenant name of a function held here (`default` for none), undefined
   * when not held: a read from memory for what counts tasks by tenant (metrics).
   */
  tenantOf(id: string): string | undefined {
    const known = this.#entries.get(id);
    return known && tenantName(known.tenant);
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
      const known = this.#entries.get(id);
      if (known?.source === undefined) {
        missing.push(id);
        continue;
      }
      this.#touch(id, known);
      out.push({ id, source: known.source });
    }
    const loaded = await Promise.all(missing.map((id) => this.#store.getFunction(id)));
    missing.forEach((id, i) => {
      const fn = loaded[i];
      if (!fn) {
        this.delete(id);
        return;
      }
      this.add(fn);
      out.push({ id: fn.id, source: fn.source });
    });
    return out;
  }

  /** Most recently used moves to the end of the map. */
  #touch(id: string, entry: CachedFunction): void {
    this.#entries.delete(id);
    this.#entries.set(id, entry);
  }

  #keep(id: string, entry: CachedFunction): void {
    this.delete(id);
    // A source larger than the whole budget is not held: it would evict every other for one.
    if (entry.source !== undefined && entry.source.length > this.#maxSourceBytes) {
      entry.source = undefined;
    }
    this.#entries.set(id, entry);
    this.#bytes += entry.source?.length ?? 0;
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= MAX_RECORDS) break;
      this.delete(oldest);
    }
    for (const old of this.#entries.values()) {
      if (this.#bytes <= this.#maxSourceBytes) break;
      this.#bytes -= old.source?.length ?? 0;
      old.source = undefined;
    }
  }
}
