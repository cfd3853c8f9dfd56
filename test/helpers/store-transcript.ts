/**
 * What the store contract suites need to compare two stores' answers.
 */

import { expect } from 'chai';
import { MemoryStore } from '../../server/store/memory-store.js';
import { RedisStore } from '../../server/store/redis-store.js';
import type { TaskStore } from '../../server/store/task-store.js';
import { testRedis, uniquePrefix } from './root-hooks.js';

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
    // A claim's `top` is a hint only a Redis store gives (a sharded store orders its shards by it).
    if (key === 'top') continue;
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

/** One scripted run on a store: each call's label and its answer, in order. */
export type Transcript = [string, unknown][];

/**
 * Runs the same script on a fresh memory store and a fresh Redis store
 * (instance `me`) and compares them step by step, so that a difference
 * names the call that answered it.
 */
export async function expectSameTranscripts(
  run: (store: TaskStore) => Promise<Transcript>,
  weightOf?: (tenant: string | undefined) => number,
): Promise<void> {
  const memory = new MemoryStore(weightOf ? { weightOf } : {});
  const redis = new RedisStore({
    url: testRedis().url,
    prefix: uniquePrefix(),
    instanceId: 'me',
    ...(weightOf ? { weightOf } : {}),
  });
  await redis.connect();
  try {
    const fromMemory = await run(memory);
    const fromRedis = await run(redis);
    for (const [i, [label, answer]] of fromMemory.entries()) {
      expect(fromRedis[i]?.[0]).to.equal(label);
      expect(fromRedis[i]?.[1], label).to.deep.equal(answer);
    }
    expect(fromRedis.length).to.equal(fromMemory.length);
  } finally {
    await memory.close();
    await redis.close();
  }
}
