/**
 * Opens the store the config asks for. With the default Redis URL and no
 * Redis answering, falls back to the in-memory store and says so; with a
 * Redis URL the user gave, an unreachable Redis is an error.
 */

import type { Logger } from 'pino';
import { withoutPassword } from '../../shared/transport-security.js';
import type { ServerConfig, StoreConfig } from '../server-config.js';
import type { Tenants } from '../tenants.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import { ShardedStore } from './sharded-store.js';
import type { TaskStore } from './task-store.js';

export async function openStore(
  store: StoreConfig,
  instanceId: string,
  config: ServerConfig,
  log: Logger,
  tenants?: Tenants,
): Promise<TaskStore> {
  // Fair dispatch across tenants' lanes takes each tenant's share from the tokens file.
  const weightOf = tenants && ((tenant: string | undefined) => tenants.weightOf(tenant));
  if (store.kind === 'memory') {
    log.warn('using the in-memory store: tasks and results will not survive a restart');
    return new MemoryStore({
      resultTtlSeconds: config.resultTtlSeconds,
      idempotencyTtlSeconds: config.idempotencyTtlSeconds,
      weightOf,
    });
  }
  let lastError = '';
  const onError = (error: Error) => {
    if (error.message !== lastError) log.warn({ err: error.message }, 'redis connection trouble');
    lastError = error.message;
  };
  if (store.kind === 'redis-cluster') {
    // A cluster named is a cluster required: no fallback to memory.
    const sharded = new ShardedStore({
      seeds: store.nodes,
      shards: store.shards,
      prefix: store.prefix,
      instanceId,
      resultTtlSeconds: config.resultTtlSeconds,
      idempotencyTtlSeconds: config.idempotencyTtlSeconds,
      weightOf,
      onError,
    });
    await sharded.connect();
    log.info(
      { cluster: store.nodes.join(','), shards: store.shards, prefix: store.prefix },
      'connected to the redis cluster',
    );
    return sharded;
  }
  const redis = new RedisStore({
    url: store.url,
    prefix: store.prefix,
    instanceId,
    resultTtlSeconds: config.resultTtlSeconds,
    idempotencyTtlSeconds: config.idempotencyTtlSeconds,
    weightOf,
    connectTimeoutMs: store.required ? 3000 : 500,
    onError,
  });
  try {
    await redis.connect();
    log.info({ redis: withoutPassword(store.url), prefix: store.prefix }, 'connected to redis');
    return redis;
  } catch (error) {
    if (store.required) throw error;
    log.warn(
      `no Redis answered at ${withoutPassword(store.url)}; using the in-memory store: tasks and results will not survive a restart. ` +
        'Start redis-server, or point taskgrid at one with REDIS_URL or --redis <url>.',
    );
    return new MemoryStore({
      resultTtlSeconds: config.resultTtlSeconds,
      idempotencyTtlSeconds: config.idempotencyTtlSeconds,
      weightOf,
    });
  }
}
