/**
 * What the store contract suites need to compare two stores' answers.
 */

import { expect } from 'chai';

/**
 * Replaces the times a store stamps itself (lease and finish times) with a
 * marker, after checking each is a time of this run: the only fields of a
 * record allowed to differ between the stores.
 */
export function normalise(value: unknown, since: number, aheadMs = 0): unknown {
  if (Array.isArray(value)) return value.map((v) => normalise(v, since, aheadMs));
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [k, normalise(v, since, aheadMs)]));
  }
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if ((key === 'started_at' || key === 'finished_at') && v !== undefined) {
      expect(v, key)
        .to.be.a('number')
        .within(since, Date.now() + aheadMs);
      out[key] = '<stamped>';
    } else {
      out[key] = normalise(v, since, aheadMs);
    }
  }
  return out;
}
