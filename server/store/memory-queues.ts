/**
 * The memory store's queue: one FIFO per priority, higher priorities taken
 * first, as the Redis store's list and `prio` set give them; and the sorted
 * lists it keeps by time (WAITING tasks, deadlines) and by seq (the index).
 */

import type { RetryPolicy } from './task-store.js';

/** An id and the number it is ordered by (a time or a seq). */
export interface Queued {
  at: number;
  id: string;
}

/** Inserts in order of `at`, then id, as a Redis ZSET orders equal scores. */
export function insertSorted(list: Queued[], entry: Queued): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const other = list[mid] as Queued;
    if (other.at < entry.at || (other.at === entry.at && other.id < entry.id)) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, entry);
}

/** How long a task waits before run number `runs + 1` (the Redis complete script's twin). */
export function backoffWait(retry: RetryPolicy, runs: number): number {
  let wait = retry.delay_ms;
  if (retry.backoff === 'exponential') wait *= 2 ** (runs - 1);
  if (retry.max_delay_ms !== undefined && wait > retry.max_delay_ms) wait = retry.max_delay_ms;
  return Math.floor(wait);
}

/** One priority's FIFO: an array with a moving head (O(1) take), compacted now and then. */
class Fifo {
  items: string[] = [];
  head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  shift(): string | undefined {
    const id = this.items[this.head++];
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return id;
  }

  remove(id: string): void {
    const at = this.items.indexOf(id, this.head);
    if (at >= 0) this.items.splice(at, 1);
  }
}

export class SeqQueues {
  /** Priority → its FIFO; priorities other than 0 are kept in seq order, as `prio`'s scores. */
  readonly #byPriority = new Map<number, Fifo>();
  /** Priorities that have a FIFO, highest first. */
  #priorities: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** At the tail of its priority (a new or newly runnable task). */
  push(priority: number, seq: number, id: string): void {
    const fifo = this.#fifo(priority);
    if (priority === 0) fifo.items.push(id);
    else this.#insertBySeq(fifo, seq, id);
    this.#size++;
  }

  /** Back at the head of its priority (a lease returned): it has waited longest. */
  pushHead(priority: number, seq: number, id: string): void {
    const fifo = this.#fifo(priority);
    if (priority === 0) {
      if (fifo.head > 0) fifo.items[--fifo.head] = id;
      else fifo.items.unshift(id);
    } else {
      this.#insertBySeq(fifo, seq, id);
    }
    this.#size++;
  }

  /** Up to `max` ids, highest priority first. */
  take(max: number): string[] {
    const out: string[] = [];
    for (const priority of this.#priorities) {
      const fifo = this.#byPriority.get(priority);
      while (fifo && fifo.size > 0 && out.length < max) {
        const id = fifo.shift();
        this.#size--;
        if (id !== undefined) {
          this.#seqOf.delete(id);
          out.push(id);
        }
      }
      if (out.length >= max) break;
    }
    return out;
  }

  remove(priority: number, id: string): void {
    const fifo = this.#byPriority.get(priority);
    if (!fifo) return;
    const before = fifo.size;
    fifo.remove(id);
    this.#seqOf.delete(id);
    this.#size -= before - fifo.size;
  }

  /** Adds how many ids each priority holds to `counts` (priority → count). */
  countByPriority(counts: Map<number, number>): void {
    for (const [priority, fifo] of this.#byPriority) {
      if (fifo.size > 0) counts.set(priority, (counts.get(priority) ?? 0) + fifo.size);
    }
  }

  /** Every id, in the order the Redis store walks them: the list, then `prio` by score. */
  idsInScanOrder(): string[] {
    const zero = this.#byPriority.get(0);
    const out = zero ? zero.items.slice(zero.head) : [];
    for (const priority of this.#priorities) {
      if (priority === 0) continue;
      const fifo = this.#byPriority.get(priority);
      if (fifo) out.push(...fifo.items.slice(fifo.head));
    }
    return out;
  }

  #fifo(priority: number): Fifo {
    let fifo = this.#byPriority.get(priority);
    if (!fifo) {
      fifo = new Fifo();
      this.#byPriority.set(priority, fifo);
      this.#priorities = [...this.#byPriority.keys()].sort((a, b) => b - a);
    }
    return fifo;
  }

  readonly #seqOf = new Map<string, number>();

  #insertBySeq(fifo: Fifo, seq: number, id: string): void {
    this.#seqOf.set(id, seq);
    let at = fifo.items.length;
    while (at > fifo.head && (this.#seqOf.get(fifo.items[at - 1] as string) ?? 0) > seq) at--;
    fifo.items.splice(at, 0, id);
  }
}
