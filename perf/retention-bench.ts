/**
 * What a retained task costs Redis: a fresh redis-server (nothing else in it,
 * so the allocator has no history), a local-mode server with the default
 * `--result-ttl`, then `tasks` no-op tasks submitted and completed through
 * REST. Redis's `used_memory` after, less before, over the task count is the
 * cost of one finished task kept for its TTL (hash, result, listing indexes,
 * keyspace entry), which with a rate and the TTL bounds what retention holds.
 */

import { createClient } from 'redis';
import { DEFAULT_RESULT_TTL_SECONDS } from '../server/server-config.js';
import { RedisKeys } from '../server/store/redis-keys.js';
import { TestRedis } from '../test/helpers/redis-server.js';
import { CompletionWatcher } from './completion-watcher.js';
import { GridCluster } from './taskgrid-bench.js';

export interface RetentionBound {
  /** Submit rate sustained for a whole TTL. */
  tasks_per_second: number;
  /** Where the rate comes from (a round figure, or this run's FIFO no-op throughput). */
  rate_from: string;
  tasks_held: number;
  /** 10^9 bytes. */
  gb: number;
}

export interface RetentionResult {
  tasks: number;
  mode: 'local';
  /** The server's default `--result-ttl` (the bound is stated for it). */
  result_ttl_seconds: number;
  /** TTL of one of the tasks right after the run: retention really applied. */
  ttl_seen_seconds: number;
  used_memory_before: number;
  used_memory_after: number;
  bytes_per_task: number;
  keys_per_task: number;
  /** `MEMORY USAGE` of one task hash: the part of bytes_per_task that is the hash itself. */
  task_hash_bytes: number;
  bounds: RetentionBound[];
}

const NOOP = 'function noop() { return null }';
/** Tasks stored before the "before" figure, so the indexes exist and only per-task growth is measured. */
const WARM_UP = 200;
const BATCH = 1000;

function connect(url: string) {
  return createClient({ url });
}
type Client = ReturnType<typeof connect>;

async function usedMemory(client: Client): Promise<number> {
  const info = await client.info('memory');
  const bytes = Number(/used_memory:(\d+)/.exec(info)?.[1]);
  if (!Number.isFinite(bytes)) throw new Error('INFO memory has no used_memory');
  return bytes;
}

/** Submits `count` no-op tasks in batches and resolves when all have finished. */
async function runTasks(cluster: GridCluster, fn: string, count: number): Promise<string[]> {
  const watcher = await CompletionWatcher.start(cluster.redisUrl, cluster.prefix);
  try {
    const ids: string[] = [];
    for (let i = 0; i < count; i += BATCH) {
      const n = Math.min(BATCH, count - i);
      const reply = await cluster.grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
        function_id: fn,
        payloads: Array.from({ length: n }, () => '[]'),
      });
      if (reply.status !== 201) throw new Error(`submit failed: ${JSON.stringify(reply.body)}`);
      ids.push(...reply.body.task_ids);
    }
    await watcher.waitFor(ids, 300_000);
    return ids;
  } finally {
    // Its subscription's buffers are not retained tasks: gone before memory is read.
    await watcher.close();
  }
}

/** Lets the server's last writes and the clients' buffers settle before INFO is read. */
const settle = () => new Promise((r) => setTimeout(r, 1000));

export async function runRetention(tasks: number): Promise<Omit<RetentionResult, 'bounds'>> {
  const redis = await TestRedis.start();
  try {
    const cluster = await GridCluster.start(
      { mode: 'local', workers: 1, threadsPerWorker: 2 },
      redis.url,
    );
    const client = connect(redis.url);
    await client.connect();
    try {
      const fn = await cluster.grid.register(NOOP, 'noop');
      await runTasks(cluster, fn, WARM_UP);
      await settle();
      const before = await usedMemory(client);
      const keysBefore = await client.dbSize();
      const ids = await runTasks(cluster, fn, tasks);
      await settle();
      const after = await usedMemory(client);
      const keysAfter = await client.dbSize();
      const sample = new RedisKeys(cluster.prefix).task(ids[ids.length >> 1] ?? '');
      const ttl = await client.ttl(sample);
      const hashBytes = (await client.memoryUsage(sample)) ?? 0;
      return {
        tasks,
        mode: 'local',
        result_ttl_seconds: DEFAULT_RESULT_TTL_SECONDS,
        ttl_seen_seconds: ttl,
        used_memory_before: before,
        used_memory_after: after,
        bytes_per_task: (after - before) / tasks,
        keys_per_task: (keysAfter - keysBefore) / tasks,
        task_hash_bytes: hashBytes,
      };
    } finally {
      await client.close();
      await cluster.stop();
    }
  } finally {
    await redis.destroy();
  }
}

/** bytes per task × rate × TTL: what Redis holds at steady state when every task is kept its TTL. */
export function retentionBounds(
  bytesPerTask: number,
  ttlSeconds: number,
  rates: { tasks_per_second: number; rate_from: string }[],
): RetentionBound[] {
  return rates.map(({ tasks_per_second, rate_from }) => {
    const held = tasks_per_second * ttlSeconds;
    return { tasks_per_second, rate_from, tasks_held: held, gb: (held * bytesPerTask) / 1e9 };
  });
}
