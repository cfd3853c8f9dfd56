/**
 * `npm run perf -- --cluster [host:port,…]`: the same no-op run on one Redis
 * and on the store sharded over a Redis Cluster, side by side, measured
 * where the work lands: each node's commands (INFO commandstats), their
 * spread over the masters, the Lua time and the Redis CPU time per task.
 * On this 2-core machine the cluster cannot be faster than one Redis (every
 * node shares the cores); what it shows is the per-task cost on each node,
 * from which the scale model in README is computed.
 *
 * Without nodes it starts its own 3-master cluster (test/helpers/redis-cluster.ts)
 * and its own Redis; REDIS_URL names an existing Redis.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { createClient } from 'redis';
import { FinishLog } from '../test/helpers/finish-log.js';
import { GridClient } from '../test/helpers/grid-client.js';
import { killAll, startServer, startWorker } from '../test/helpers/processes.js';
import { TestCluster } from '../test/helpers/redis-cluster.js';
import { TestRedis } from '../test/helpers/redis-server.js';
import { textTable } from './targets.js';

export interface ClusterStudyOptions {
  /** Nodes of an existing cluster; absent: a 3-master cluster started here. */
  nodes?: string[] | undefined;
  shards: number;
  tasks: number;
  servers: number;
  out: string;
}

/** One node's counters over a run. */
interface NodeCost {
  node: string;
  calls: number;
  luaCalls: number;
  luaUsec: number;
  cpuUsec: number;
}

interface Backend {
  name: string;
  tasksPerSecond: number;
  nodes: NodeCost[];
}

const NOOP = 'function noop() { return 1 }';
/** Small batches: each goes to one shard, so many of them spread the load evenly over the shards. */
const BATCH = 100;

export async function clusterStudy(o: ClusterStudyOptions): Promise<void> {
  const ownRedis = process.env.REDIS_URL ? undefined : await TestRedis.start();
  const redisUrl = process.env.REDIS_URL || (ownRedis as TestRedis).url;
  const ownCluster = o.nodes ? undefined : await TestCluster.start();
  const nodes = o.nodes ?? (ownCluster as TestCluster).seeds.split(',');
  try {
    const single = await measure('one Redis', ['--redis', redisUrl], [redisUrl], o);
    const sharded = await measure(
      `cluster, ${nodes.length} nodes, ${o.shards} shards`,
      ['--redis-cluster', nodes.join(','), '--shards', String(o.shards)],
      await masters(nodes),
      o,
    );
    const report = studyReport([single, sharded], o);
    await mkdir(o.out, { recursive: true });
    await writeFile(`${o.out}report.md`, report);
    await writeFile(`${o.out}results.json`, `${JSON.stringify([single, sharded], null, 2)}\n`);
    process.stdout.write(`\n${report}\nperf: wrote ${o.out}report.md and results.json\n`);
  } finally {
    await killAll();
    await ownCluster?.destroy();
    await ownRedis?.destroy();
  }
}

/** The masters' URLs, as the cluster lists them. */
async function masters(seeds: readonly string[]): Promise<string[]> {
  const client = createClient({ url: `redis://${seeds[0]}` });
  await client.connect();
  try {
    const text = String(await client.sendCommand(['CLUSTER', 'NODES']));
    return text
      .split('\n')
      .filter((line) => line.includes('master') && !line.includes('fail'))
      .map((line) => `redis://${(line.split(' ')[1] ?? '').split('@')[0]}`);
  } finally {
    await client.close();
  }
}

async function measure(
  name: string,
  storeFlags: string[],
  nodeUrls: string[],
  o: ClusterStudyOptions,
): Promise<Backend> {
  const prefix = `perfc${Date.now().toString(36)}:`;
  const servers = [];
  for (let i = 0; i < o.servers; i++) {
    const server = await startServer(['--mode', 'push', ...storeFlags, '--prefix', prefix]);
    servers.push(server);
    await startWorker(server.wsUrl, ['--threads', '2']);
  }
  const grids = servers.map((s) => new GridClient(s.url));
  const first = grids[0] as GridClient;
  const fn = await first.register(NOOP);
  const finished =
    storeFlags[0] === '--redis-cluster'
      ? await FinishLog.startOnCluster(storeFlags[1] as string, prefix, o.shards)
      : await FinishLog.start(storeFlags[1] as string, prefix);
  // A warm-up batch: scripts loaded, connections open.
  await first.batch(
    fn,
    Array.from({ length: 200 }, () => []),
  );
  await finished.settle(200, 30_000);
  const before = await Promise.all(nodeUrls.map(nodeCost));
  const started = performance.now();
  let submitted = 0;
  for (let b = 0; submitted < o.tasks; b++) {
    const n = Math.min(BATCH, o.tasks - submitted);
    await (grids[b % grids.length] as GridClient).batch(
      fn,
      Array.from({ length: n }, () => []),
    );
    submitted += n;
  }
  const done = await finished.settle(200 + o.tasks, 600_000);
  const seconds = (performance.now() - started) / 1000;
  const after = await Promise.all(nodeUrls.map(nodeCost));
  await finished.close();
  await killAll();
  if (done < 200 + o.tasks) throw new Error(`${name}: ${done - 200} of ${o.tasks} tasks finished`);
  return {
    name,
    tasksPerSecond: o.tasks / seconds,
    nodes: after.map((a, i) => {
      const b = before[i] as NodeCost;
      return {
        node: a.node,
        calls: a.calls - b.calls,
        luaCalls: a.luaCalls - b.luaCalls,
        luaUsec: a.luaUsec - b.luaUsec,
        cpuUsec: a.cpuUsec - b.cpuUsec,
      };
    }),
  };
}

/** A node's command counts (INFO commandstats) and its CPU time (INFO cpu), so far. */
async function nodeCost(url: string): Promise<NodeCost> {
  const client = createClient({ url });
  await client.connect();
  try {
    const stats = await client.info('commandstats');
    const cpu = await client.info('cpu');
    let calls = 0;
    let luaCalls = 0;
    let luaUsec = 0;
    for (const m of stats.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
      calls += Number(m[2]);
      if (m[1] === 'evalsha' || m[1] === 'eval') {
        luaCalls += Number(m[2]);
        luaUsec += Number(m[3]);
      }
    }
    const seconds = (field: string) => Number(new RegExp(`${field}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
    return {
      node: url.replace('redis://', ''),
      calls,
      luaCalls,
      luaUsec,
      cpuUsec: Math.round((seconds('used_cpu_sys') + seconds('used_cpu_user')) * 1e6),
    };
  } finally {
    await client.close();
  }
}

function studyReport(backends: Backend[], o: ClusterStudyOptions): string {
  const rows: string[][] = [];
  for (const b of backends) {
    const total = b.nodes.reduce((sum, n) => sum + n.calls, 0);
    const mean = total / b.nodes.length;
    for (const n of b.nodes) {
      rows.push([
        b.name,
        n.node,
        String(n.calls),
        `${((100 * n.calls) / total).toFixed(1)}%`,
        `${(((n.calls - mean) / mean) * 100).toFixed(1)}%`,
        (n.calls / o.tasks).toFixed(2),
        (n.luaUsec / o.tasks).toFixed(1),
        (n.cpuUsec / o.tasks).toFixed(1),
      ]);
    }
    const lua = b.nodes.reduce((sum, n) => sum + n.luaUsec, 0);
    const cpu = b.nodes.reduce((sum, n) => sum + n.cpuUsec, 0);
    const spread = Math.max(...b.nodes.map((n) => Math.abs(n.calls - mean) / mean));
    rows.push([
      b.name,
      `all (${Math.round(b.tasksPerSecond)} tasks/s; spread ±${(spread * 100).toFixed(1)}%)`,
      String(total),
      '100%',
      '',
      (total / o.tasks).toFixed(2),
      (lua / o.tasks).toFixed(1),
      (cpu / o.tasks).toFixed(1),
    ]);
  }
  // A node saturates its core when the grid's rate × its CPU per task reaches 1 s per second.
  const limit = (b: Backend | undefined) =>
    b ? Math.round(1e6 / Math.max(...b.nodes.map((n) => n.cpuUsec / o.tasks))) : 0;
  return [
    `# Cluster study: ${o.tasks} no-op tasks in batches of ${BATCH}, ${o.servers} push servers × 1 worker × 2 threads`,
    '',
    textTable(
      [
        'store',
        'node',
        'commands',
        'share',
        'off the mean',
        'commands/task',
        'Lua µs/task',
        'Redis CPU µs/task',
      ],
      rows,
    ),
    '',
    "Redis's limit on the grid, one core per Redis process: 1e6 ÷ the busiest node's Redis CPU",
    `µs per task: one Redis ${limit(backends[0])} tasks/s, the cluster ${limit(backends[1])} tasks/s.`,
    'Scale model: throughput ≈ min(servers × per-server rate, that limit); each master added',
    '(with shards a multiple of the masters) takes its share of the per-task cost off the others.',
    `Command: npm run perf -- --cluster${o.nodes ? ` ${o.nodes.join(',')}` : ''} --shards ${o.shards} --tasks ${o.tasks} --servers ${o.servers}`,
    '',
  ].join('\n');
}
