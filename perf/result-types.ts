/** One measured run of the study. */

import type { Summary } from './stats.js';

export interface RunResult {
  system: 'taskgrid' | 'bullmq' | 'node-worker-threads-pool' | 'piscina' | 'taskgrid-pool';
  mode: string;
  task: string;
  workers: number;
  threads_per_worker: number;
  scaling: 'headline' | 'weak' | 'weak-large' | 'strong' | 'ceiling';
  submit: 'batch' | 'single' | 'in-process';
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
}
