/**
 * How much each part of the study runs: `npm run perf` (full), `-- --quick`,
 * `npm run bench` (the targets only) and a hidden `--tiny` that only checks
 * the harness works end to end (its numbers mean nothing).
 */

export interface Plan {
  name: 'full' | 'quick' | 'bench' | 'tiny';
  /** No-op batch runs of the headline (fib 3: half as many). */
  headlineTasks: number;
  /** One-at-a-time runs of the headline clusters (push, pull, local). */
  singleTasks: number;
  /** The weak/strong scaling sweeps and the raw pools (not in bench). */
  sweeps: boolean;
  workerCounts: number[];
  sweepTasks: string[];
  perWorkerLarge: number;
  strongTotal: number | undefined;
  poolTasks: number;
  /** Tasks of each payload workload (taskgrid and BullMQ alike). */
  payloadTasks: Record<string, number>;
  /** Calls of each one-call latency run (REST, SDK, BullMQ). */
  oneCalls: number;
  /** How long each set of plain loops runs (ms), and fib(25) tasks per worker. */
  cpuLoopMs: number;
  cpuTasksPerWorker: number;
  swarm: {
    /** Connections of the small and the large throughput runs. */
    few: number;
    many: number;
    /** No-op tasks of each throughput run. */
    tasks: number;
    /** Connections established for the connect-time figure. */
    connect: number;
    /** Connections held through the reconnect storm, and tasks checked across it. */
    storm: number;
    stormTasks: number;
  };
  queuedTasks: number;
  soakTasks: number;
  /**
   * Issue 16: rounds of the FIFO and the priority-mixed no-op runs on each
   * mode (0: the part is skipped), and the finished tasks whose Redis memory
   * is measured.
   */
  lifecycleRounds: number;
  retainedTasks: number;
  /**
   * Issue 13: tenant A's queued no-op backlog in the fairness runs (0: the
   * part is skipped). The issue states the figure for 100,000.
   */
  fairnessBacklog: number;
}

const PAYLOAD_QUICK = { echo1k: 5000, echo64k: 2000, echo1m: 100, result64k: 2000 };

export const QUICK: Plan = {
  name: 'quick',
  headlineTasks: 30_000,
  singleTasks: 300,
  sweeps: true,
  workerCounts: [1, 2],
  sweepTasks: ['noop', 'fib3', 'fib25'],
  perWorkerLarge: 2000,
  strongTotal: undefined,
  poolTasks: 50_000,
  payloadTasks: PAYLOAD_QUICK,
  oneCalls: 300,
  cpuLoopMs: 3000,
  cpuTasksPerWorker: 1500,
  swarm: { few: 10, many: 2000, tasks: 20_000, connect: 3000, storm: 2000, stormTasks: 10_000 },
  queuedTasks: 100_000,
  soakTasks: 200_000,
  lifecycleRounds: 3,
  retainedTasks: 20_000,
  // Smaller than the 100,000: the one-tenant contrast runs all of it first.
  fairnessBacklog: 20_000,
};

export const FULL: Plan = {
  name: 'full',
  headlineTasks: 20_000,
  singleTasks: 1000,
  sweeps: true,
  workerCounts: [1, 2, 4, 8],
  sweepTasks: ['noop', 'fib3', 'fib25', 'sleep10', 'echo64k'],
  perWorkerLarge: 2000,
  strongTotal: 8000,
  poolTasks: 200_000,
  payloadTasks: { echo1k: 20_000, echo64k: 5000, echo1m: 300, result64k: 5000 },
  oneCalls: 1000,
  cpuLoopMs: 5000,
  cpuTasksPerWorker: 3000,
  swarm: {
    few: 10,
    many: 10_000,
    tasks: 50_000,
    connect: 15_000,
    storm: 10_000,
    stormTasks: 20_000,
  },
  queuedTasks: 100_000,
  soakTasks: 1_000_000,
  lifecycleRounds: 3,
  retainedTasks: 100_000,
  fairnessBacklog: 100_000,
};

/** The targets of issue 17 at the sizes they are stated for; no sweeps. */
export const BENCH: Plan = {
  ...QUICK,
  name: 'bench',
  headlineTasks: 50_000,
  singleTasks: 1000,
  sweeps: false,
  oneCalls: 1000,
  swarm: FULL.swarm,
  soakTasks: 1_000_000,
  // Issue 17's targets only.
  lifecycleRounds: 0,
  fairnessBacklog: 0,
};

export const TINY: Plan = {
  name: 'tiny',
  headlineTasks: 300,
  singleTasks: 10,
  sweeps: true,
  workerCounts: [1, 2],
  sweepTasks: ['noop', 'fib25'],
  perWorkerLarge: 20,
  strongTotal: undefined,
  poolTasks: 1000,
  payloadTasks: { echo1k: 50, echo64k: 20, echo1m: 4, result64k: 20 },
  oneCalls: 10,
  cpuLoopMs: 300,
  cpuTasksPerWorker: 20,
  swarm: { few: 2, many: 50, tasks: 500, connect: 100, storm: 50, stormTasks: 200 },
  queuedTasks: 1000,
  soakTasks: 0,
  lifecycleRounds: 1,
  retainedTasks: 1000,
  fairnessBacklog: 1000,
};
