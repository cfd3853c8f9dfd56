/**
 * The server alone, fed by a swarm (swarm.ts): no-op throughput with few and
 * with many worker connections, the time to establish many connections as
 * the server counts them (with its memory and file descriptors per
 * connection), and a reconnect storm after kill -9 of the server.
 */

import { freePort } from '../test/helpers/redis-server.js';
import { CompletionWatcher } from './completion-watcher.js';
import { fdLimit, openFds, rssKb } from './proc-stats.js';
import type { RunResult } from './result-types.js';
import { Swarm, waitForWorkers } from './swarm.js';
import { GridCluster, runOnGrid } from './taskgrid-bench.js';
import { WORKLOADS, type Workload } from './workloads.js';

/** Threads each swarm connection announces: a worker × 2 threads, as in the headline. */
const THREADS = 2;
/** Handshakes in flight at once while a swarm connects (see ConnectOrder.window). */
const WINDOW = 1024;
/** The per-IP cap (12,000 by default) would refuse a 15,000-connection swarm from one host. */
const SERVER_FLAGS = ['--max-connections-per-ip', '20000'];
const NOOP = WORKLOADS.noop as Workload;

export interface SwarmConnectResult {
  connections: number;
  /** First connect → the server lists every connection (GET /workers, polled). */
  server_seconds: number;
  /** First connect → every connection has its welcome, by the swarm's clock. */
  swarm_seconds: number;
  rss_kb_per_connection: number;
  fds_per_connection: number;
  /** The server's open-file limit (soft). */
  fd_limit: number;
  connections_per_gib: number;
  /** Connections the server could hold within its open-file limit, at the measured fds each. */
  connections_per_fd_limit: number;
}

export interface SwarmStormResult {
  connections: number;
  /** kill -9 → the restarted server lists every connection again. */
  kill_to_connected_s: number;
  /** kill -9 → a probe batch submitted to the restarted server has finished. */
  kill_to_dispatch_s: number;
  /** kill -9 → the restarted server answers (process start, store, listen). */
  kill_to_listening_s: number;
  /** Tasks stored (201) before the kill, each checked to reach COMPLETED. */
  tasks_checked: number;
  tasks_lost: number;
  reconnects: number;
}

/** Opens the swarm's connections and waits until the server lists them all. */
async function connect(cluster: GridCluster, swarm: Swarm, connections: number): Promise<void> {
  await swarm.connect({ url: cluster.server.wsUrl, connections, threads: THREADS, window: WINDOW });
  await waitForWorkers(cluster.grid, connections, 60_000);
}

async function withSwarm<T>(
  mode: 'push' | 'pull',
  redisUrl: string,
  extra: string[],
  body: (cluster: GridCluster, swarm: Swarm) => Promise<T>,
): Promise<T> {
  const cluster = await GridCluster.start(
    { mode, workers: 0, threadsPerWorker: THREADS },
    redisUrl,
    [...SERVER_FLAGS, ...extra],
  );
  let swarm: Swarm | undefined;
  try {
    swarm = await Swarm.start();
    return await body(cluster, swarm);
  } finally {
    await swarm?.kill();
    await cluster.stop();
  }
}

/** No-op throughput (batches of 1,000) with `connections` swarm connections. */
export async function runSwarmThroughput(
  redisUrl: string,
  mode: 'push' | 'pull',
  connections: number,
  tasks: number,
): Promise<RunResult> {
  return withSwarm(mode, redisUrl, [], async (cluster, swarm) => {
    await connect(cluster, swarm, connections);
    // Warm-up, not reported (as on the worker-process clusters).
    await runOnGrid(cluster, { workload: NOOP, tasks: 500, scaling: 'swarm' });
    const result = await runOnGrid(cluster, { workload: NOOP, tasks, scaling: 'swarm' });
    return { ...result, workers: connections, threads_per_worker: THREADS };
  });
}

/** Time until the server lists `connections` new connections, and what each costs it. */
export async function runSwarmConnect(
  redisUrl: string,
  connections: number,
  mode: 'push' | 'pull' = 'push',
): Promise<SwarmConnectResult> {
  return withSwarm(mode, redisUrl, [], async (cluster, swarm) => {
    const pid = cluster.server.child.pid as number;
    const rssBefore = rssKb(pid);
    const fdsBefore = openFds(pid);
    const t0 = performance.now();
    const swarmMs = swarm.connect({
      url: cluster.server.wsUrl,
      connections,
      threads: THREADS,
      window: WINDOW,
    });
    // Awaited below; if the server's count fails first, this must not end the process unhandled.
    swarmMs.catch(() => {});
    const listed = await waitForWorkers(cluster.grid, connections, 120_000);
    const swarmSeconds = (await swarmMs) / 1000;
    // Let allocation settle before reading memory.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const kbEach = (rssKb(pid) - rssBefore) / connections;
    const fdsEach = (openFds(pid) - fdsBefore) / connections;
    const limit = fdLimit(pid);
    return {
      connections,
      server_seconds: (listed - t0) / 1000,
      swarm_seconds: swarmSeconds,
      rss_kb_per_connection: kbEach,
      fds_per_connection: fdsEach,
      fd_limit: limit,
      connections_per_gib: Math.floor((1024 * 1024) / kbEach),
      connections_per_fd_limit: Math.floor((limit - fdsBefore) / fdsEach),
    };
  });
}

/**
 * kill -9 of a server holding `connections` swarm workers while it takes
 * tasks; restarted at once on the same port. Measures when every worker is
 * back and when a task submitted to the new server has run, then checks that
 * every task stored before the kill completes (the dead server's leases run
 * out after 5 s and its tasks go back to the queue).
 */
export async function runSwarmStorm(
  redisUrl: string,
  connections: number,
  tasks: number,
): Promise<SwarmStormResult> {
  const port = await freePort();
  const flags = ['--port', String(port), '--lease', '5000'];
  return withSwarm('push', redisUrl, flags, async (cluster, swarm) => {
    await connect(cluster, swarm, connections);
    const fn = await cluster.functionFor(NOOP);
    const ids: string[] = [];
    const submit = async (n: number) => {
      const reply = await cluster.grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
        function_id: fn,
        payloads: Array.from({ length: n }, () => '[]'),
      });
      if (reply.status !== 201) throw new Error(`submit answered ${reply.status}`);
      ids.push(...reply.body.task_ids);
    };
    // Subscribed first: the probe's finish is announced on the events channel.
    const watcher = await CompletionWatcher.start(redisUrl, cluster.prefix);
    try {
      const half = Math.ceil(tasks / 2);
      for (let i = 0; i < half; i += 1000) await submit(Math.min(1000, half - i));
      // The rest goes in while the server dies: a batch whose answer is lost is not checked.
      const late = (async () => {
        for (let i = half; i < tasks; i += 1000) await submit(Math.min(1000, tasks - i));
      })().catch(() => {});
      const killed = performance.now();
      await cluster.killServer();
      await late;
      const allBack = waitForWorkers(cluster.grid, connections, 120_000);
      await cluster.restartServer();
      const listening = performance.now();
      const before = ids.length;
      await submit(100);
      const probe = ids.splice(before);
      await watcher.waitFor(probe, 120_000);
      const dispatched = Math.max(...probe.map((id) => watcher.finishedAt(id) ?? 0));
      const connected = await allBack;
      const finals = await cluster.grid.waitAll(ids);
      const lost = finals.filter((body) => body.status !== 'COMPLETED').length;
      return {
        connections,
        kill_to_connected_s: (connected - killed) / 1000,
        kill_to_dispatch_s: (dispatched - killed) / 1000,
        kill_to_listening_s: (listening - killed) / 1000,
        tasks_checked: ids.length,
        tasks_lost: lost,
        reconnects: (await swarm.stats()).reconnects,
      };
    } finally {
      await watcher.close();
    }
  });
}
