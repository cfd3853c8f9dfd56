/**
 * Every TaskStore, each opened fresh: the memory store, the Redis store
 * (under a prefix of its own on the test Redis) and the store sharded over
 * the test Redis Cluster (its own prefix too).
 */

import { randomUUID } from 'node:crypto';
import { MemoryStore, type MemoryStoreOptions } from '../../server/store/memory-store.js';
import { RedisStore } from '../../server/store/redis-store.js';
import { ShardedStore } from '../../server/store/sharded-store.js';
import type { NewTask, TaskStore } from '../../server/store/task-store.js';
import { findReferences, referencedIds } from '../../server/task-references.js';
import { testCluster, testRedis, uniquePrefix } from './root-hooks.js';

type WeightOf = MemoryStoreOptions['weightOf'];

/** The options both test stores take only when given (exactOptionalPropertyTypes). */
function storeExtras(options: { weightOf?: WeightOf; resultTtlSeconds?: number }): {
  weightOf?: WeightOf;
  resultTtlSeconds?: number;
} {
  return {
    ...(options.weightOf ? { weightOf: options.weightOf } : {}),
    ...(options.resultTtlSeconds === undefined
      ? {}
      : { resultTtlSeconds: options.resultTtlSeconds }),
  };
}

/** A Redis store on the test Redis under a prefix of its own. */
export async function openRedisStore(
  options: { weightOf?: WeightOf; resultTtlSeconds?: number } = {},
): Promise<RedisStore> {
  const store = new RedisStore({
    url: testRedis().url,
    prefix: uniquePrefix(),
    instanceId: randomUUID(),
    ...storeExtras(options),
  });
  await store.connect();
  return store;
}

/** The store sharded over the test cluster. */
export async function openShardedStore(
  options: {
    weightOf?: WeightOf;
    shards?: number;
    instanceId?: string;
    prefix?: string;
    resultTtlSeconds?: number;
  } = {},
): Promise<ShardedStore> {
  const store = new ShardedStore({
    seeds: (await testCluster()).seeds.split(','),
    shards: options.shards ?? 16,
    prefix: options.prefix ?? uniquePrefix(),
    instanceId: options.instanceId ?? randomUUID(),
    ...storeExtras(options),
  });
  await store.connect();
  return store;
}

/** `[name, open]` for each store; `weightOf` goes to all. */
export function everyStore(weightOf?: WeightOf): [string, () => Promise<TaskStore>][] {
  const shared = weightOf ? { weightOf } : {};
  return [
    ['MemoryStore', async () => new MemoryStore(shared)],
    ['RedisStore', () => openRedisStore(shared)],
    ['ShardedStore (cluster)', () => openShardedStore(shared)],
  ];
}

/**
 * Ids for a test's tasks from the store, as the task service takes them: on
 * the sharded store they all name one shard (one batch's), so a test's
 * tasks keep the order a single queue gives.
 */
export function idPool(store: TaskStore): () => string {
  let pool: string[] = [];
  return () => {
    if (pool.length === 0) pool = store.newTaskIds(Array.from({ length: 5000 }, () => ({})));
    const id = pool.pop();
    if (id === undefined) throw new Error('the store gave no ids');
    return id;
  };
}

/**
 * One batch of new tasks of function `f1`, as the task service makes them:
 * ids from the store, and `{"$task": id}` references found in the arguments.
 */
export function storeBatch(
  store: TaskStore,
  argsList: unknown[][],
  extra: Partial<NewTask> = {},
): NewTask[] {
  const ids = store.newTaskIds(argsList.map(() => ({ lane: extra.lane })));
  return argsList.map((args, i) => {
    const text = JSON.stringify(args);
    const refs = findReferences(text, args);
    return {
      id: ids[i] as string,
      function_id: 'f1',
      args: text,
      timeout_ms: 1000,
      created_at: Date.now(),
      ...(refs ? { depends_on: referencedIds(refs), refs } : {}),
      ...extra,
    };
  });
}
