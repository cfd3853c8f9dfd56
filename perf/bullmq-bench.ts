/**
 * The Node peer, measured in the same run on the same Redis: BullMQ with the
 * same number of worker processes running the same function.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Job, Queue, QueueEvents } from 'bullmq';
import type { RunResult } from './result-types.js';
import { summarize } from './stats.js';
import { payloadBytes, type Workload } from './workloads.js';

const WORKER = fileURLToPath(new URL('./bullmq-worker.js', import.meta.url));

function connection(url: string) {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port), maxRetriesPerRequest: null };
}

async function startWorkers(
  url: string,
  queue: string,
  n: number,
  concurrency: number,
  task: string,
) {
  const children: ChildProcess[] = [];
  await Promise.all(
    Array.from({ length: n }, () => {
      const child = spawn(process.execPath, [WORKER, url, queue, String(concurrency), task], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`bullmq worker exited with ${code}`)));
      });
    }),
  );
  return children;
}

export interface BullSpec {
  workload: Workload;
  tasks: number;
  workers: number;
  concurrency: number;
  submit: 'batch' | 'single';
  scaling: RunResult['scaling'];
  /** Jobs per addBulk (default 1000). */
  batchSize?: number;
}

export async function runBullmq(redisUrl: string, spec: BullSpec): Promise<RunResult> {
  const name = `perf-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const queue = new Queue(name, { connection: connection(redisUrl) });
  const events = new QueueEvents(name, { connection: connection(redisUrl) });
  await events.waitUntilReady();
  const children = await startWorkers(
    redisUrl,
    name,
    spec.workers,
    spec.concurrency,
    spec.workload.name,
  );
  const data = { args: spec.workload.args() };
  const clientLatency: number[] = [];
  let t0 = 0;
  let t1 = 0;
  try {
    if (spec.submit === 'batch') {
      let done = 0;
      const finished = new Promise<void>((resolve) => {
        events.on('completed', () => {
          done++;
          if (done === spec.tasks) resolve();
        });
      });
      t0 = performance.now();
      const size = spec.batchSize ?? 1000;
      for (let i = 0; i < spec.tasks; i += size) {
        const n = Math.min(size, spec.tasks - i);
        await queue.addBulk(Array.from({ length: n }, () => ({ name: 't', data })));
      }
      await finished;
      t1 = performance.now();
    } else {
      // Like the taskgrid probe: a few unreported calls open connections and compile hot paths.
      for (let i = 0; i < Math.min(20, Math.ceil(spec.tasks / 10)); i++) {
        await (await queue.add('t', data)).waitUntilFinished(events, 30_000);
      }
      t0 = performance.now();
      for (let i = 0; i < spec.tasks; i++) {
        const start = performance.now();
        const job = await queue.add('t', data);
        await job.waitUntilFinished(events, 30_000);
        clientLatency.push(performance.now() - start);
      }
      t1 = performance.now();
    }
    const jobs = (await queue.getJobs(['completed'], 0, -1)) as Job[];
    const expected = JSON.stringify(spec.workload.expected(spec.workload.args()));
    const verified = jobs.filter((j) => JSON.stringify(j.returnvalue ?? null) === expected).length;
    if (verified < spec.tasks)
      throw new Error(`bullmq: ${verified} of ${spec.tasks} jobs verified`);
    const seconds = (t1 - t0) / 1000;
    const bytes = payloadBytes(spec.workload);
    return {
      system: 'bullmq',
      mode: 'bullmq',
      task: spec.workload.name,
      workers: spec.workers,
      threads_per_worker: 1,
      scaling: spec.scaling,
      submit: spec.submit,
      tasks: spec.tasks,
      seconds,
      throughput: spec.tasks / seconds,
      latency: summarize(
        spec.submit === 'single'
          ? clientLatency
          : jobs.map((j) => (j.finishedOn ?? 0) - j.timestamp),
      ),
      queue_wait: summarize(jobs.map((j) => (j.processedOn ?? 0) - j.timestamp)),
      run_time: summarize(jobs.map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0))),
      // Warm-up calls of a one-at-a-time run finish too; count only the measured ones.
      verified: Math.min(verified, spec.tasks),
      arg_bytes: bytes.args,
      result_bytes: bytes.result,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await events.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}
