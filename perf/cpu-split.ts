/**
 * Where the CPU goes: one workload through the SDK's `fn.map()` on push mode
 * (a server and worker processes, their own Redis), and the CPU each process
 * used for it (/proc utime + stime; Redis from INFO; this client from
 * process.cpuUsage), per task. What the README's "where the rest goes" lines
 * quote. Prints a table and one JSON line.
 *
 *   node dist/perf/cpu-split.js echo64k 2000 [workers] [threads per worker]
 */

import { createClient } from 'redis';
import { TaskGrid } from '../index.js';
import { TestRedis } from '../test/helpers/redis-server.js';
import { cpuSeconds } from './proc-stats.js';
import { GridCluster, mapAll } from './taskgrid-bench.js';
import { WORKLOADS } from './workloads.js';

const [name = '', count = '', workerArg = '2', threadArg = '2'] = process.argv.slice(2);
const workload = WORKLOADS[name];
const tasks = Number(count);
const workers = Number(workerArg);
const threads = Number(threadArg);
if (!workload || !Number.isSafeInteger(tasks) || tasks < 1 || !(workers >= 1) || !(threads >= 1)) {
  throw new Error(
    `usage: cpu-split.js <workload> <tasks> [workers] [threads]; workloads: ${Object.keys(WORKLOADS).join(', ')}`,
  );
}

async function redisCpu(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    const info = await client.info('cpu');
    const field = (key: string) => Number(new RegExp(`${key}:([0-9.]+)`).exec(info)?.[1] ?? 0);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    await client.close();
  }
}

function clientCpu(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

const redis = await TestRedis.start();
const cluster = await GridCluster.start(
  { mode: 'push', workers, threadsPerWorker: threads },
  redis.url,
);

const sdk = new TaskGrid({ url: cluster.server.url });
try {
  const fn = await cluster.functionFor(workload);
  // A short unreported run first: connections open, hot paths compiled.
  await mapAll(sdk, fn, workload, Math.min(200, tasks), 100);
  const pids = [cluster.server.child.pid ?? 0, ...cluster.workerPids];
  const before = { procs: pids.map(cpuSeconds), redis: await redisCpu(redis.url), me: clientCpu() };
  const seconds = await mapAll(sdk, fn, workload, tasks, 100);
  const after = { procs: pids.map(cpuSeconds), redis: await redisCpu(redis.url), me: clientCpu() };
  const run = { seconds, throughput: tasks / seconds };
  const rows: [string, number][] = [
    ['server', (after.procs[0] ?? 0) - (before.procs[0] ?? 0)],
    ...cluster.workerPids.map((_, i): [string, number] => [
      `worker ${i + 1}`,
      (after.procs[i + 1] ?? 0) - (before.procs[i + 1] ?? 0),
    ]),
    ['redis', after.redis - before.redis],
    ['client (SDK, this process)', after.me - before.me],
  ];
  const total = rows.reduce((sum, [, s]) => sum + s, 0);
  console.log(
    `${workload.name}: ${tasks} tasks in ${run.seconds.toFixed(2)} s, ${Math.round(run.throughput)} tasks/s; CPU ${total.toFixed(2)} s (${(total / run.seconds).toFixed(2)} cores)`,
  );
  console.log('| process | CPU s | µs per task | share |\n|---|---|---|---|');
  for (const [label, s] of rows) {
    console.log(
      `| ${label} | ${s.toFixed(2)} | ${Math.round((s / tasks) * 1e6)} | ${Math.round((s / total) * 100)}% |`,
    );
  }
  console.log(
    JSON.stringify({
      workload: workload.name,
      tasks,
      seconds: run.seconds,
      throughput: run.throughput,
      cpu_seconds: Object.fromEntries(rows),
    }),
  );
} finally {
  sdk.close();
  await cluster.stop();
  await redis.destroy();
}
