/**
 * A plain loop of one workload's function, no grid at all: what one core
 * gives when nothing else runs on it. Started by cpu-bench.ts with an IPC
 * channel: compiles and warms up, says `ready`, runs for the given time once
 * told `go`, and reports how many calls it made.
 * Usage: node plain-loop.js <workload> <ms>
 */

import { compileWorkload, WORKLOADS } from './workloads.js';

const [task = 'fib25', msText = '2000'] = process.argv.slice(2);
const workload = WORKLOADS[task];
if (!workload) throw new Error(`Unknown workload \`${task}\``);
const fn = compileWorkload(task);
const args = workload.args();
const ms = Number(msText);

// Warm-up: let the function reach its optimised tier before it is timed.
const warmUntil = performance.now() + Math.min(500, ms / 4);
while (performance.now() < warmUntil) fn(...args);

process.once('message', () => {
  let calls = 0;
  const t0 = performance.now();
  const until = t0 + ms;
  let now = t0;
  while (now < until) {
    fn(...args);
    calls++;
    now = performance.now();
  }
  process.send?.({ calls, ms: now - t0 }, () => process.exit(0));
});
process.send?.('ready');
