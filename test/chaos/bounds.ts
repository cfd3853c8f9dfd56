/**
 * Invariant 1's bound for one task: it must be terminal by
 *   taken + prefetch wait + (1 + faulted runs) × (timeout_ms + lease) + grace + store downtime
 * "Taken" is when a worker first took it (first seen RUNNING; its ack when it
 * never was seen): time spent QUEUED behind a backlog is capacity, not a
 * fault, and a FIFO queue promises no bound on it. "Prefetch wait" is the
 * longest function timeout of the run: a worker holds up to `prefetch` tasks
 * per thread, so a task it took may wait for one task ahead of it per thread.
 * "Faulted runs" are the task's extra claims that a fault explains (a fault
 * on a process that held its lease, a rogue that held it, or a store fault
 * while it ran; see faultsOnTask): each may have cost one whole run plus a
 * lease before the grid noticed. "Store downtime" is the part of the task's
 * window during which a Redis fault was in effect: with the store paused or
 * gone nothing can be recorded, so that time is added back. Nothing else is
 * forgiven: a fault on a process that never held the task adds nothing.
 */

import { GLOBAL_FAULTS } from './faults.js';
import type { FaultWindow } from './history.js';
import type { TrackedTask } from './task-book.js';
import { KINDS } from './task-kinds.js';

export interface BoundOptions {
  leaseMs: number;
  graceMs: number;
}

/** The longest function timeout of any kind: the most a taken task waits behind another. */
const PREFETCH_WAIT_MS = Math.max(...Object.values(KINDS).map((k) => k.fnTimeoutMs));

export function storeDowntime(faults: readonly FaultWindow[], from: number, to: number): number {
  let total = 0;
  for (const f of faults) {
    if (!GLOBAL_FAULTS.has(f.kind)) continue;
    total += Math.max(0, Math.min(to, f.end) - Math.max(from, f.start));
  }
  return total;
}

export function boundOf(
  task: TrackedTask,
  faults: readonly FaultWindow[],
  o: BoundOptions,
  faultedRuns: number,
): number {
  const taken = Math.max(task.ackAt, task.firstRunningAt ?? task.ackAt);
  const base =
    taken + PREFETCH_WAIT_MS + (1 + faultedRuns) * (task.timeoutMs + o.leaseMs) + o.graceMs;
  // Downtime inside the window stretches it, which may take in more downtime.
  let bound = base;
  for (let i = 0; i < 3; i++) bound = base + storeDowntime(faults, task.ackAt, bound);
  return bound;
}
