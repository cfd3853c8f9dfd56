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

/** A moving average of task run time, fed with outcome batches. */
export class RunTimeAverage {
  /** Until the first outcome, assume a millisecond. */
  value = 1;

  add(outcomes: readonly { run_ms: number }[]): void {
    if (outcomes.length === 0) return;
    let total = 0;
    for (const o of outcomes) total += o.run_ms;
    this.value = this.value * 0.7 + (total / outcomes.length) * 0.3;
  }
}
