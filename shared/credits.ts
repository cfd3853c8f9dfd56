/**
 * How many tasks a worker (or the local pool) may hold. Enough queued work
 * per thread to cover a round trip to the store and back, about PIPELINE_MS
 * of it, so cheap tasks are sent in large batches and threads never wait;
 * never fewer than `prefetch` per thread, so slow tasks spread evenly.
 */

const PIPELINE_MS = 20;
const MAX_PER_THREAD = 256;

export function creditsFor(threads: number, prefetch: number, avgRunMs: number): number {
  const perThread = Math.floor(PIPELINE_MS / Math.max(avgRunMs, PIPELINE_MS / MAX_PER_THREAD));
  return threads * Math.max(prefetch, Math.min(MAX_PER_THREAD, perThread));
}

/** The most a worker may ever hold, whatever it asks for. */
export function maxCredits(threads: number): number {
  return threads * MAX_PER_THREAD;
}

/** How fast old run times fade from the average (ms): about this long of history counts. */
const HALF_LIFE_MS = 1000;

/**
 * The mean run time of recent tasks: total run time over task count, both
 * fading with time. A ratio of sums, not an average of batch means: many
 * small batches of cheap tasks must not hide the slow ones finishing among
 * them, or a worker would take (and queue behind slow tasks) far more cheap
 * work than it can start. Until the first outcome it assumes a task takes
 * PIPELINE_MS, so a new worker starts with `prefetch` tasks per thread.
 */
export class RunTimeAverage {
  #totalMs = 0;
  #count = 0;
  #at = 0;

  get value(): number {
    return this.#count > 0 ? this.#totalMs / this.#count : PIPELINE_MS;
  }

  add(outcomes: readonly { run_ms: number }[], now = Date.now()): void {
    if (outcomes.length === 0) return;
    let total = 0;
    for (const o of outcomes) total += o.run_ms;
    const fade = this.#count > 0 ? 0.5 ** (Math.max(0, now - this.#at) / HALF_LIFE_MS) : 0;
    this.#totalMs = this.#totalMs * fade + total;
    this.#count = this.#count * fade + outcomes.length;
    this.#at = now;
  }
}
