/**
 * `npm run perf [-- --quick]`: the scaling study. Starts (or uses) a Redis,
 * real taskgrid servers and worker processes, the BullMQ baseline and the
 * raw pools, then writes perf/results/latest/.
 */

import { execFileSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { createClient } from 'redis';
import { TestRedis } from '../test/helpers/redis-server.js';
import { runBullmq } from './bullmq-bench.js';
import { writeCharts } from './charts.js';
import { type MemoryResult, runMemory } from './memory-bench.js';
import { runRawPools } from './pool-bench.js';
import { writeReport } from './report.js';
import type { RunResult } from './result-types.js';
import { type ClusterShape, GridCluster, type RunSpec, runOnGrid } from './taskgrid-bench.js';
import { WORKLOADS } from './workloads.js';

interface Plan {
  headlineTasks: number;
  singleTasks: number;
  workerCounts: number[];
  sweepTasks: string[];
  perWorkerLarge: number;
  strongTotal: number | undefined;
  poolTasks: number;
  soakTasks: number;
  /** Only the headline runs and the memory check (npm run bench). */
  headlineOnly: boolean;
}

const QUICK: Plan = {
  headlineTasks: 30_000,
  singleTasks: 300,
  workerCounts: [1, 2],
  sweepTasks: ['noop', 'fib3', 'fib25'],
  perWorkerLarge: 2000,
  strongTotal: undefined,
  poolTasks: 50_000,
  soakTasks: 200_000,
  headlineOnly: false,
};
const FULL: Plan = {
  headlineTasks: 20_000,
  singleTasks: 1000,
  workerCounts: [1, 2, 4, 8],
  sweepTasks: ['noop', 'fib3', 'fib25', 'sleep10', 'echo64k'],
  perWorkerLarge: 2000,
  strongTotal: 8000,
  poolTasks: 200_000,
  soakTasks: 1_000_000,
  headlineOnly: false,
};
const BENCH: Plan = {
  ...QUICK,
  headlineTasks: 50_000,
  singleTasks: 1000,
  soakTasks: 1_000_000,
  headlineOnly: true,
};

async function redisVersion(url: string): Promise<string> {
  const client = createClient({ url });
  await client.connect();
  const info = await client.info('server');
  await client.close();
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

async function main(): Promise<void> {
  const program = new Command('perf')
    .option('--quick', 'a reduced sweep that finishes in a few minutes')
    .option('--bench', 'only the headline runs against BullMQ and the memory soak (npm run bench)')
    .option(
      '--out <dir>',
      'where to write the results',
      fileURLToPath(new URL('../../perf/results/latest/', import.meta.url)),
    )
    .parse(process.argv);
  const opts = program.opts<{ quick?: boolean; bench?: boolean; out: string }>();
  const plan = opts.bench ? BENCH : opts.quick ? QUICK : FULL;
  const started = new Date().toISOString();
  const ownRedis = process.env.REDIS_URL ? undefined : await TestRedis.start();
  const redisUrl = process.env.REDIS_URL || (ownRedis as TestRedis).url;
  const results: RunResult[] = [];

  // Count the runs first so the progress bar knows where the end is.
  type Step = { label: string; run: () => Promise<RunResult[]> };
  const steps: Step[] = [];
  const modes = ['push', 'pull', 'local'] as const;
  let cluster: GridCluster | undefined;
  const onCluster = (shape: ClusterShape, specs: RunSpec[]): Step => ({
    label: `taskgrid ${shape.mode} ${shape.workers}×${shape.threadsPerWorker}`,
    run: async () => {
      cluster = await GridCluster.start(shape, redisUrl);
      try {
        const out: RunResult[] = [];
        // A short warm-up lets threads compile and connections settle; it is not reported.
        await runOnGrid(cluster, {
          workload: WORKLOADS.noop as RunSpec['workload'],
          tasks: 500,
          submit: 'batch',
          scaling: 'headline',
        });
        for (const spec of specs) out.push(await runOnGrid(cluster, spec));
        return out;
      } finally {
        await cluster.stop();
        cluster = undefined;
      }
    },
  });
  const w = (name: string) => WORKLOADS[name] as RunSpec['workload'];

  for (const mode of modes) {
    steps.push(
      onCluster({ mode, workers: 2, threadsPerWorker: 2 }, [
        { workload: w('noop'), tasks: plan.headlineTasks, submit: 'batch', scaling: 'headline' },
        {
          workload: w('fib3'),
          tasks: plan.headlineTasks / 2,
          submit: 'batch',
          scaling: 'headline',
        },
        { workload: w('noop'), tasks: plan.singleTasks, submit: 'single', scaling: 'headline' },
      ]),
    );
  }
  steps.push({
    label: 'bullmq 2 workers',
    run: async () => [
      await runBullmq(redisUrl, {
        workload: w('noop'),
        tasks: plan.headlineTasks,
        workers: 2,
        concurrency: 100,
        submit: 'batch',
        scaling: 'headline',
      }),
      await runBullmq(redisUrl, {
        workload: w('fib3'),
        tasks: plan.headlineTasks / 2,
        workers: 2,
        concurrency: 100,
        submit: 'batch',
        scaling: 'headline',
      }),
      await runBullmq(redisUrl, {
        workload: w('noop'),
        tasks: plan.singleTasks,
        workers: 1,
        concurrency: 100,
        submit: 'single',
        scaling: 'headline',
      }),
    ],
  });
  for (const mode of plan.headlineOnly ? [] : modes) {
    for (const workers of plan.workerCounts) {
      const specs: RunSpec[] = [];
      for (const task of plan.sweepTasks) {
        specs.push({ workload: w(task), tasks: 5 * workers, submit: 'batch', scaling: 'weak' });
        specs.push({
          workload: w(task),
          tasks: plan.perWorkerLarge * workers,
          submit: 'batch',
          scaling: 'weak-large',
        });
        if (plan.strongTotal)
          specs.push({
            workload: w(task),
            tasks: plan.strongTotal,
            submit: 'batch',
            scaling: 'strong',
          });
      }
      steps.push(onCluster({ mode, workers, threadsPerWorker: 1 }, specs));
    }
  }
  for (const workers of plan.headlineOnly ? [] : plan.workerCounts) {
    steps.push({
      label: `bullmq sweep ${workers}`,
      run: async () => {
        const out: RunResult[] = [];
        for (const task of plan.sweepTasks.filter((t) => t === 'noop' || t.startsWith('fib'))) {
          out.push(
            await runBullmq(redisUrl, {
              workload: w(task),
              tasks: plan.perWorkerLarge * workers,
              workers,
              concurrency: 100,
              submit: 'batch',
              scaling: 'weak-large',
            }),
          );
        }
        return out;
      },
    });
  }
  let memory: MemoryResult | undefined;
  steps.push({
    label: 'memory',
    run: async () => {
      memory = await runMemory(redisUrl, plan.soakTasks);
      return [];
    },
  });
  if (!plan.headlineOnly)
    steps.push({
      label: 'raw pools',
      run: async () => [
        ...(await runRawPools(w('noop'), 2, plan.poolTasks)),
        ...(await runRawPools(w('fib3'), 2, plan.poolTasks)),
      ],
    });

  const bar = new SingleBar({
    format: 'perf [{bar}] {value}/{total} {label}',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 5000,
  });
  bar.start(steps.length, 0, { label: '' });
  try {
    for (const step of steps) {
      bar.update({ label: step.label });
      results.push(...(await step.run()));
      bar.increment();
    }
  } finally {
    bar.stop();
    await ownRedis?.destroy();
  }

  await rm(opts.out, { recursive: true, force: true });
  await mkdir(opts.out, { recursive: true });
  const charts = await writeCharts(results, opts.out);
  await writeReport(
    opts.out,
    {
      command: opts.bench ? 'npm run bench' : `npm run perf${opts.quick ? ' -- --quick' : ''}`,
      started,
      finished: new Date().toISOString(),
      node: process.version,
      redis: ownRedis
        ? execFileSync('redis-server', ['--version']).toString().trim()
        : await redisVersion(redisUrl),
      quick: Boolean(opts.quick),
    },
    results,
    charts,
    memory,
  );
  process.stdout.write(
    `perf: wrote ${opts.out}report.md, results.json, results.csv and ${charts.length} charts\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`perf: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
