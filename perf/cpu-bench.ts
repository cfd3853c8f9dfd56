/**
 * The machine's limit for a CPU-bound task: `processes` plain loops of the
 * same function (plain-loop.ts) running at once for the same time, summed.
 * Two loops at once is the figure two workers × 1 thread are held against.
 */

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunResult } from './result-types.js';
import { summarize } from './stats.js';
import type { Workload } from './workloads.js';

const ENTRY = fileURLToPath(new URL('./plain-loop.js', import.meta.url));

interface LoopReport {
  calls: number;
  ms: number;
}

function isLoopReport(value: unknown): value is LoopReport {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { calls?: unknown }).calls === 'number' &&
    typeof (value as { ms?: unknown }).ms === 'number'
  );
}

export async function runPlainLoops(
  workload: Workload,
  processes: number,
  ms: number,
): Promise<RunResult> {
  const children = Array.from({ length: processes }, () =>
    fork(ENTRY, [workload.name, String(ms)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    const reports = children.map(
      (child) =>
        new Promise<LoopReport>((resolve, reject) => {
          child.on('message', (message: unknown) => {
            if (isLoopReport(message)) resolve(message);
          });
          child.once('exit', (code) => reject(new Error(`a plain loop exited with ${code}`)));
        }),
    );
    // Every loop compiled and warm before any is timed, so they run side by side.
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) =>
            child.on('message', (message: unknown) => message === 'ready' && resolve()),
          ),
      ),
    );
    for (const child of children) child.send('go');
    const done = await Promise.all(reports);
    const calls = done.reduce((sum, r) => sum + r.calls, 0);
    const throughput = done.reduce((sum, r) => sum + (r.calls * 1000) / r.ms, 0);
    const empty = summarize([]);
    return {
      system: 'plain-loop',
      mode: 'plain',
      task: workload.name,
      workers: processes,
      threads_per_worker: 1,
      scaling: 'cpu',
      submit: 'in-process',
      tasks: calls,
      seconds: ms / 1000,
      throughput,
      latency: empty,
      queue_wait: empty,
      run_time: empty,
      verified: calls,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
