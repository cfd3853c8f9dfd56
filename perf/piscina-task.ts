/** Piscina's thread entry for the raw-pool ceiling: runs a workload by name. */

import { compileWorkload } from './workloads.js';

const cache = new Map<string, (...args: unknown[]) => unknown>();

export default function run({ task, args }: { task: string; args: unknown[] }): unknown {
  let fn = cache.get(task);
  if (!fn) {
    fn = compileWorkload(task);
    cache.set(task, fn);
  }
  return fn(...args);
}
