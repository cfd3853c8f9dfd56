/** One measured run of the study. */

import type { Summary } from './stats.js';

export interface RunResult {
  system:
    | 'taskgrid'
    | 'bullmq'
    | 'node-worker-threads-pool'
    | 'piscina'
    | 'taskgrid-pool'
    | 'plain-loop';
  mode: string;
  task: string;
  workers: number;
  threads_per_worker: number;
  /**
   * headline: the no-op and fib(3) comparison; weak, weak-large, strong: the
   * scaling sweeps; ceiling: raw pools; payload: the argument/result size
   * sweep; latency: one call at a time; cpu: fib(25) against plain loops;
   * swarm: the server alone, fed by protocol-level swarm connections;
   * lifecycle: no-op FIFO beside the same workload with mixed priorities.
   */
  scaling:
    | 'headline'
    | 'weak'
    | 'weak-large'
    | 'strong'
    | 'ceiling'
    | 'payload'
    | 'latency'
    | 'cpu'
    | 'swarm'
    | 'lifecycle';
  /**
   * batch: REST execute_batch; sdk-map: the SDK's `fn.map()` (binary batches on the client
   * socket); single: REST submit then its result, through node:http; single-fetch: the same
   * through fetch; sdk: `await fn(x)` through the client SDK.
   */
  submit: 'batch' | 'sdk-map' | 'single' | 'single-fetch' | 'sdk' | 'in-process';
  tasks: number;
  seconds: number;
  throughput: number;
  /** submit → finish, from stored timestamps. */
  latency: Summary;
  /** submit → start (RUNNING / active). */
  queue_wait: Summary;
  /** start → finish. */
  run_time: Summary;
  verified: number;
  /** Bytes of one task's argument list as JSON text (payload runs). */
  arg_bytes?: number;
  /** Bytes of one task's result as JSON text (payload runs). */
  result_bytes?: number;
  /** The priorities the batches were submitted with (absent: none given, plain FIFO). */
  priority_mix?: PriorityMix;
  /** submit → start for the tasks of each priority, highest first, when batches had priorities. */
  queue_wait_by_priority?: PriorityWait[];
}

export interface PriorityWait {
  priority: number;
  tasks: number;
  queue_wait: Summary;
}

/** A fixed seeded draw of one priority per batch: the same sequence in every run. */
export interface PriorityMix {
  seed: number;
  values: number[];
  /** Batches submitted at each priority. */
  batches: Record<string, number>;
}

/** MB/s (10^6 bytes) of arguments moved end to end. */
export function argumentMBps(r: RunResult): number | undefined {
  return r.arg_bytes === undefined ? undefined : (r.throughput * r.arg_bytes) / 1e6;
}
