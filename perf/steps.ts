/**
 * The study as a list of steps, each one cluster (or one BullMQ set-up) and
 * the runs made on it. Runs that are compared stand next to each other, so
 * the machine's mood changes as little as possible between them.
 */

import { runBullmq } from './bullmq-bench.js';
import { runPlainLoops } from './cpu-bench.js';
import { type FairnessResult, runFairness } from './fairness-bench.js';
import { type FanInResult, runFanIn } from './fan-in.js';
import { type MemoryResult, runMemory } from './memory-bench.js';
import { runOneCall } from './one-call-bench.js';
import type { Plan } from './plan.js';
import { runRawPools } from './pool-bench.js';
import type { RunResult } from './result-types.js';
import { type RetentionResult, retentionBounds, runRetention } from './retention-bench.js';
import {
  runSwarmConnect,
  runSwarmStorm,
  runSwarmThroughput,
  type SwarmConnectResult,
  type SwarmStormResult,
} from './swarm-bench.js';
import { type ClusterShape, GridCluster, runMapOnGrid, runOnGrid } from './taskgrid-bench.js';
import { WORKLOADS, type Workload } from './workloads.js';

export interface Collected {
  runs: RunResult[];
  memory?: MemoryResult;
  swarmConnect?: SwarmConnectResult;
  swarmStorm?: SwarmStormResult;
  retention?: RetentionResult;
  fairness?: FairnessResult;
  fanIn?: FanInResult;
}

export interface Step {
  label: string;
  run: (into: Collected) => Promise<void>;
}

/** Batches of the payload sweep (issue 17's table), fewer when 100 would pass the body limit. */
const PAYLOAD_BATCH = 100;

function w(name: string): Workload {
  const workload = WORKLOADS[name];
  if (!workload) throw new Error(`Unknown workload \`${name}\``);
  return workload;
}

/** A cluster, a short unreported warm-up, then the given runs on it. */
function onCluster(
  redisUrl: string,
  shape: ClusterShape,
  runs: (cluster: GridCluster) => (() => Promise<RunResult>)[],
  label = `taskgrid ${shape.mode} ${shape.workers}×${shape.threadsPerWorker}`,
): Step {
  return {
    label,
    run: async (into) => {
      const cluster = await GridCluster.start(shape, redisUrl);
      try {
        // Threads compile and connections settle first; not reported.
        await runOnGrid(cluster, { workload: w('noop'), tasks: 500, scaling: 'headline' });
        for (const run of runs(cluster)) into.runs.push(await run());
      } finally {
        await cluster.stop();
      }
    },
  };
}

/** A BullMQ run: `workers` processes at concurrency 100, the same function, the same Redis. */
function bull(
  redisUrl: string,
  workload: Workload,
  tasks: number,
  workers: number,
  scaling: RunResult['scaling'],
  options: { submit?: 'batch' | 'single'; batchSize?: number } = {},
): () => Promise<RunResult> {
  return () =>
    runBullmq(redisUrl, {
      workload,
      tasks,
      workers,
      concurrency: 100,
      submit: options.submit ?? 'batch',
      scaling,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    });
}

function bullStep(label: string, runs: (() => Promise<RunResult>)[]): Step {
  return {
    label,
    run: async (into) => {
      for (const run of runs) into.runs.push(await run());
    },
  };
}

function headline(plan: Plan, redisUrl: string): Step[] {
  const steps: Step[] = (['push', 'pull', 'local'] as const).map((mode) =>
    onCluster(redisUrl, { mode, workers: 2, threadsPerWorker: 2 }, (cluster) => [
      () =>
        runOnGrid(cluster, { workload: w('noop'), tasks: plan.headlineTasks, scaling: 'headline' }),
      () =>
        runOnGrid(cluster, {
          workload: w('fib3'),
          tasks: plan.headlineTasks / 2,
          scaling: 'headline',
        }),
      () =>
        runOneCall(cluster, {
          workload: w('noop'),
          calls: plan.singleTasks,
          via: 'rest',
          scaling: 'headline',
        }),
    ]),
  );
  steps.push(
    bullStep('bullmq 2 workers', [
      bull(redisUrl, w('noop'), plan.headlineTasks, 2, 'headline'),
      bull(redisUrl, w('fib3'), plan.headlineTasks / 2, 2, 'headline'),
    ]),
  );
  return steps;
}

/**
 * Issue 16: the headline no-op push workload (every mode, 2 × 2), FIFO beside
 * the same batches each with one priority of a seeded mix, on one cluster.
 * All FIFO rounds come first: after a task with a priority the dispatchers
 * stay exact (no prefetch) for a while, which would slow a FIFO run after it.
 * Then the Redis memory of retained tasks, on a fresh Redis of its own.
 */
function lifecycle(plan: Plan, redisUrl: string): Step[] {
  const rounds = plan.lifecycleRounds;
  if (rounds === 0) return [];
  const steps: Step[] = (['push', 'pull', 'local'] as const).map((mode) =>
    onCluster(
      redisUrl,
      { mode, workers: 2, threadsPerWorker: 2 },
      (cluster) =>
        [false, true].flatMap((mixedPriorities) =>
          Array.from(
            { length: rounds },
            () => () =>
              runOnGrid(cluster, {
                workload: w('noop'),
                tasks: plan.headlineTasks,
                scaling: 'lifecycle',
                mixedPriorities,
              }),
          ),
        ),
      `lifecycle: FIFO and priority-mixed no-op, taskgrid ${mode} 2×2`,
    ),
  );
  steps.push({
    label: `lifecycle: Redis memory of ${plan.retainedTasks} retained tasks`,
    run: async (into) => {
      const measured = await runRetention(plan.retainedTasks);
      const fifo = into.runs
        .filter((r) => r.scaling === 'lifecycle' && r.mode === 'push' && !r.priority_mix)
        .reduce((best, r) => Math.max(best, r.throughput), 0);
      const rates = [{ tasks_per_second: 1000, rate_from: 'a round figure' }];
      if (fifo > 0) {
        rates.push({
          tasks_per_second: Math.round(fifo),
          rate_from: "this run's FIFO push no-op throughput, sustained all day",
        });
      }
      into.retention = {
        ...measured,
        bounds: retentionBounds(measured.bytes_per_task, measured.result_ttl_seconds, rates),
      };
    },
  });
  return steps;
}

/** Target 1: 1 KiB, 64 KiB, 1 MiB arguments and 64 KiB results, push 2 × 2 against BullMQ. */
function payload(plan: Plan, redisUrl: string): Step[] {
  const tasks = Object.entries(plan.payloadTasks);
  return [
    onCluster(
      redisUrl,
      { mode: 'push', workers: 2, threadsPerWorker: 2 },
      (cluster) =>
        tasks.map(
          ([name, n]) =>
            () =>
              runMapOnGrid(cluster, {
                workload: w(name),
                tasks: n,
                scaling: 'payload',
                batchSize: PAYLOAD_BATCH,
              }),
        ),
      'payload sweep: taskgrid push 2×2',
    ),
    bullStep(
      'payload sweep: bullmq 2 workers',
      tasks.map(([name, n]) =>
        bull(redisUrl, w(name), n, 2, 'payload', { batchSize: PAYLOAD_BATCH }),
      ),
    ),
  ];
}

/** Target 2: one call at a time, push with 1 worker (2 threads), REST and SDK against BullMQ. */
function latency(plan: Plan, redisUrl: string): Step[] {
  const noop = w('noop');
  return [
    onCluster(
      redisUrl,
      { mode: 'push', workers: 1, threadsPerWorker: 2 },
      (cluster) => [
        () =>
          runOneCall(cluster, {
            workload: noop,
            calls: plan.oneCalls,
            via: 'rest',
            scaling: 'latency',
          }),
        () =>
          runOneCall(cluster, {
            workload: noop,
            calls: plan.oneCalls,
            via: 'rest-fetch',
            scaling: 'latency',
          }),
        () =>
          runOneCall(cluster, {
            workload: noop,
            calls: plan.oneCalls,
            via: 'sdk',
            scaling: 'latency',
          }),
      ],
      'one call at a time: taskgrid push 1×2',
    ),
    bullStep('one call at a time: bullmq 1 worker', [
      bull(redisUrl, noop, plan.oneCalls, 1, 'latency', { submit: 'single' }),
    ]),
  ];
}

/** Target 4: fib(25) on 1 and 2 workers × 1 thread against plain loops and BullMQ. */
function cpu(plan: Plan, redisUrl: string): Step[] {
  const fib = w('fib25');
  const steps: Step[] = [
    bullStep('plain loops of fib(25): 1, then 2 at once', [
      () => runPlainLoops(fib, 1, plan.cpuLoopMs),
      () => runPlainLoops(fib, 2, plan.cpuLoopMs),
    ]),
  ];
  for (const workers of [1, 2]) {
    steps.push(
      onCluster(
        redisUrl,
        { mode: 'push', workers, threadsPerWorker: 1 },
        (cluster) => [
          () =>
            runOnGrid(cluster, {
              workload: fib,
              tasks: plan.cpuTasksPerWorker * workers,
              scaling: 'cpu',
            }),
        ],
        `fib(25): taskgrid push ${workers}×1`,
      ),
    );
  }
  steps.push(
    bullStep(
      'fib(25): bullmq 1 and 2 workers',
      [1, 2].map((workers) =>
        bull(redisUrl, fib, plan.cpuTasksPerWorker * workers, workers, 'cpu'),
      ),
    ),
  );
  return steps;
}

/** Target 3: the server alone with few and many swarm connections, connect time, reconnect storm. */
function swarm(plan: Plan, redisUrl: string): Step[] {
  const { few, many, tasks } = plan.swarm;
  const steps: Step[] = [];
  for (const mode of ['push', 'pull'] as const) {
    for (const connections of [few, many]) {
      steps.push({
        label: `swarm ${mode} ${connections} connections`,
        run: async (into) => {
          into.runs.push(await runSwarmThroughput(redisUrl, mode, connections, tasks));
        },
      });
    }
  }
  steps.push({
    label: `swarm: ${plan.swarm.connect} connections established`,
    run: async (into) => {
      into.swarmConnect = await runSwarmConnect(redisUrl, plan.swarm.connect);
    },
  });
  steps.push({
    label: `swarm: reconnect storm of ${plan.swarm.storm}`,
    run: async (into) => {
      into.swarmStorm = await runSwarmStorm(redisUrl, plan.swarm.storm, plan.swarm.stormTasks);
    },
  });
  return steps;
}

function sweeps(plan: Plan, redisUrl: string): Step[] {
  const steps: Step[] = [];
  for (const mode of ['push', 'pull', 'local'] as const) {
    for (const workers of plan.workerCounts) {
      steps.push(
        onCluster(redisUrl, { mode, workers, threadsPerWorker: 1 }, (cluster) =>
          plan.sweepTasks.flatMap((task) => {
            const runs = [
              () => runOnGrid(cluster, { workload: w(task), tasks: 5 * workers, scaling: 'weak' }),
              () =>
                runOnGrid(cluster, {
                  workload: w(task),
                  tasks: plan.perWorkerLarge * workers,
                  scaling: 'weak-large',
                }),
            ];
            const strong = plan.strongTotal;
            if (strong !== undefined) {
              runs.push(() =>
                runOnGrid(cluster, { workload: w(task), tasks: strong, scaling: 'strong' }),
              );
            }
            return runs;
          }),
        ),
      );
    }
  }
  for (const workers of plan.workerCounts) {
    steps.push(
      bullStep(
        `bullmq sweep ${workers}`,
        plan.sweepTasks
          .filter((t) => t === 'noop' || t.startsWith('fib'))
          .map((task) =>
            bull(redisUrl, w(task), plan.perWorkerLarge * workers, workers, 'weak-large'),
          ),
      ),
    );
  }
  return steps;
}

/** The parts of the study, in the order they run; `--only` picks some of them. */
export const PARTS = [
  'headline',
  'lifecycle',
  'fairness',
  'fanin',
  'payload',
  'latency',
  'cpu',
  'swarm',
  'sweeps',
  'memory',
  'pools',
] as const;
export type Part = (typeof PARTS)[number];

export function studySteps(plan: Plan, redisUrl: string, only?: ReadonlySet<Part>): Step[] {
  const memory: Step = {
    label: 'memory',
    run: async (into) => {
      into.memory = await runMemory(redisUrl, plan.soakTasks, plan.queuedTasks);
    },
  };
  const pools: Step = {
    label: 'raw pools',
    run: async (into) => {
      into.runs.push(...(await runRawPools(w('noop'), 2, plan.poolTasks)));
      into.runs.push(...(await runRawPools(w('fib3'), 2, plan.poolTasks)));
    },
  };
  const fairness: Step = {
    label: `fair shares: ${plan.fairnessBacklog} of tenant A, then 100 of B, push 2×2`,
    run: async (into) => {
      into.fairness = await runFairness(redisUrl, plan.fairnessBacklog);
    },
  };
  const fanIn: Step = {
    label: 'fan-in: 1,000 maps feeding one reduce, local 2 threads',
    run: async (into) => {
      into.fanIn = await runFanIn(redisUrl, 5, 2);
    },
  };
  const parts: Record<Part, () => Step[]> = {
    headline: () => headline(plan, redisUrl),
    lifecycle: () => lifecycle(plan, redisUrl),
    fairness: () => (plan.fairnessBacklog > 0 ? [fairness] : []),
    // Issue 13's fan-in figure rides with the fairness run (not in npm run bench).
    fanin: () => (plan.fairnessBacklog > 0 ? [fanIn] : []),
    payload: () => payload(plan, redisUrl),
    latency: () => latency(plan, redisUrl),
    cpu: () => cpu(plan, redisUrl),
    swarm: () => swarm(plan, redisUrl),
    sweeps: () => (plan.sweeps ? sweeps(plan, redisUrl) : []),
    memory: () => [memory],
    pools: () => (plan.sweeps ? [pools] : []),
  };
  return PARTS.filter((part) => !only || only.has(part)).flatMap((part) => parts[part]());
}
