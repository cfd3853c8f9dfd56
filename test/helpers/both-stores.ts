/** Both TaskStores, each opened fresh (the Redis one under a prefix of its own on the test Redis). */

import { randomUUID } from 'node:crypto';
import { MemoryStore, type MemoryStoreOptions } from '../../server/store/memory-store.js';
import { RedisStore } from '../../server/store/redis-store.js';
import type { TaskStore } from '../../server/store/task-store.js';
import { testRedis, uniquePrefix } from './root-hooks.js';

/** `[name, open]` for the memory store and the Redis store; `weightOf` goes to both. */
export function bothStores(
  weightOf?: MemoryStoreOptions['weightOf'],
): [string, () => Promise<TaskStore>][] {
  const shared = weightOf ? { weightOf } : {};
  return [
    ['MemoryStore', async () => new MemoryStore(shared)],
    [
      'RedisStore',
      async () => {
        const store = new RedisStore({
          url: testRedis().url,
          prefix: uniquePrefix(),
          instanceId: randomUUID(),
          ...shared,
        });
        await store.connect();
        return store;
      },
    ],
  ];
}
