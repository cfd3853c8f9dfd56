/**
 * The priorities of the priority-mixed run: each batch gets one priority drawn
 * from a fixed set with a seeded generator, so every run submits the same
 * sequence and two runs of the study stay comparable. Three of the four
 * values are not 0, so the dispatchers run with priorities in play (no task
 * held ahead of time) for the whole run.
 */

import type { PriorityMix } from './result-types.js';

export const PRIORITY_VALUES = [0, 10, -10, 50] as const;
export const PRIORITY_SEED = 16;

/** mulberry32: a tiny, well-mixed 32-bit generator; enough for picking among four values. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The priority of each of `batches` batches, and the mix as results.json records it. */
export function drawPriorities(
  batches: number,
  values: readonly number[] = PRIORITY_VALUES,
  seed = PRIORITY_SEED,
): { perBatch: number[]; mix: PriorityMix } {
  const next = mulberry32(seed);
  const perBatch = Array.from(
    { length: batches },
    () => values[Math.floor(next() * values.length)] ?? 0,
  );
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = 0;
  for (const p of perBatch) counts[String(p)] = (counts[String(p)] ?? 0) + 1;
  return { perBatch, mix: { seed, values: [...values], batches: counts } };
}
