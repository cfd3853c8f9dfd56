/**
 * The local ceiling: raw thread pools running the same function in one
 * process, no Redis, no HTTP. node-worker-threads-pool (the design card's
 * pool), piscina, and our own WorkerThreadPool.
 */

import { fileURLToPath } from 'node:url';
import { StaticPool } from 'node-worker-threads-pool';
import { Piscina } from 'piscina';
import type { TaskOutcome } from '../shared/types.js';
import { WorkerThreadPool } from '../threads/thread-pool.js';
import type { RunResult } from './result-types.js';
import { summarize } from './stats.js';
import type { Workload } from './workloads.js';

const PISCINA_TASK = fileURLToPath(new URL('./piscina-task.js', import.meta.url));

function result(
  system: RunResult['system'],
  workload: Workload,
  threads: number,
  tasks: number,
  ms: number,
): RunResult {
  const empty = summarize([]);
  return {
    system,
    mode: 'in-process',
    task: workload.name,
    workers: threads,
    threads_per_worker: 1,
    scaling: 'ceiling',
    submit: 'in-process',
    tasks,
    seconds: ms / 1000,
    throughput: tasks / (ms / 1000),
    latency: empty,
    queue_wait: empty,
    run_time: empty,
    verified: tasks,
  };
}

export async function runRawPools(
  workload: Workload,
  threads: number,
  tasks: number,
): Promise<RunResult[]> {
  const args = workload.args();
  const out: RunResult[] = [];

  const legacy = new StaticPool({
    size: threads,
    task: new Function(`return (${workload.source}\n);`)() as (...a: unknown[]) => unknown,
  });
  let t = performance.now();
  await Promise.all(Array.from({ length: tasks }, () => legacy.exec(...(args as []))));
  out.push(result('node-worker-threads-pool', workload, threads, tasks, performance.now() - t));
  await legacy.destroy();

  const piscina = new Piscina({ filename: PISCINA_TASK, minThreads: threads, maxThreads: threads });
  t = performance.now();
  await Promise.all(
    Array.from({ length: tasks }, () => piscina.run({ task: workload.name, args })),
  );
  out.push(result('piscina', workload, threads, tasks, performance.now() - t));
  await piscina.destroy();

  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const pool = new WorkerThreadPool({
    threads,
    maxResultBytes: 8 * 1024 * 1024,
    onOutcomes: (outcomes: TaskOutcome[]) => {
      done += outcomes.length;
      if (done >= tasks) finish();
    },
  });
  pool.addFunctions([{ id: 'f', source: workload.source }]);
  const argText = JSON.stringify(args);
  t = performance.now();
  pool.run(
    Array.from({ length: tasks }, (_, i) => ({
      id: String(i),
      fn: 'f',
      args: argText,
      attempt: 1,
      timeout_ms: 60_000,
    })),
  );
  await finished;
  out.push(result('taskgrid-pool', workload, threads, tasks, performance.now() - t));
  await pool.close();
  return out;
}
