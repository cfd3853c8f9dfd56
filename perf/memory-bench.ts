/**
 * Memory of the server process, read from /proc: with 100,000 tasks queued
 * (no worker connected), and across a long run of no-op tasks (RSS after the
 * first 100,000 against RSS at the end).
 */

import { CompletionWatcher } from './completion-watcher.js';
import { rssMb } from './proc-stats.js';
import { GridCluster } from './taskgrid-bench.js';

export interface MemoryResult {
  queued_tasks: number;
  rss_mb_with_queue: number;
  soak_tasks: number;
  rss_mb_after_100k: number;
  rss_mb_at_end: number;
  soak_seconds: number;
}

async function submit(
  cluster: GridCluster,
  fn: string,
  count: number,
  chunk = 10_000,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += chunk) {
    const n = Math.min(chunk, count - i);
    const reply = await cluster.grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
      function_id: fn,
      payloads: Array.from({ length: n }, () => '[]'),
    });
    if (reply.status !== 201) throw new Error(`submit failed: ${JSON.stringify(reply.body)}`);
    ids.push(...reply.body.task_ids);
  }
  return ids;
}

export async function runMemory(
  redisUrl: string,
  soakTasks: number,
  queuedTasks = 100_000,
): Promise<MemoryResult> {
  const noop = 'function noop() { return null }';
  // 1. A queue of 100,000 (by default) with nobody to run it.
  const idle = await GridCluster.start({ mode: 'push', workers: 0, threadsPerWorker: 1 }, redisUrl);
  let rssQueued: number;
  try {
    const fn = await idle.grid.register(noop);
    await submit(idle, fn, queuedTasks);
    await new Promise((r) => setTimeout(r, 500));
    rssQueued = rssMb(idle.server.child.pid as number);
  } finally {
    await idle.stop();
  }

  if (soakTasks === 0) {
    return {
      queued_tasks: queuedTasks,
      rss_mb_with_queue: rssQueued,
      soak_tasks: 0,
      rss_mb_after_100k: 0,
      rss_mb_at_end: 0,
      soak_seconds: 0,
    };
  }
  // 2. A long run, in windows of 100,000 so the client's bookkeeping stays small.
  const cluster = await GridCluster.start(
    { mode: 'push', workers: 2, threadsPerWorker: 2 },
    redisUrl,
    ['--result-ttl', '60'],
  );
  const pid = cluster.server.child.pid as number;
  let after100k = 0;
  const t0 = performance.now();
  try {
    const fn = await cluster.grid.register(noop);
    for (let done = 0; done < soakTasks; done += 100_000) {
      const watcher = await CompletionWatcher.start(redisUrl, cluster.prefix);
      try {
        const ids = await submit(cluster, fn, Math.min(100_000, soakTasks - done));
        await watcher.waitFor(ids, 300_000);
      } finally {
        await watcher.close();
      }
      if (done === 0) after100k = rssMb(pid);
    }
    return {
      queued_tasks: queuedTasks,
      rss_mb_with_queue: rssQueued,
      soak_tasks: soakTasks,
      rss_mb_after_100k: after100k,
      rss_mb_at_end: rssMb(pid),
      soak_seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await cluster.stop();
  }
}
