/**
 * Which faults could have touched a task. A re-run (an extra claim), a
 * WorkerLostError, or a longer bound is forgiven only for faults that could
 * explain it: a store fault while the task was in flight, a rogue worker
 * that held it, or a fault of a process that held its lease (known from the
 * lease owners sampled while it ran). When the sampler missed some of the
 * task's claims, every process fault in its window is given the benefit of
 * the doubt.
 */

import { GLOBAL_FAULTS } from './faults.js';
import type { FaultWindow } from './history.js';
import type { TrackedTask } from './task-book.js';
import type { Topology } from './topology.js';

export interface TaskFaults {
  /** Store faults while it was in flight. */
  store: number;
  /** Faults of processes that held (or may have held) it, the rogue included. */
  process: number;
}

/** The highest attempt known: the store's final count, else the sampler's. */
export function attemptsOf(task: TrackedTask): number {
  if (task.final) return task.final.attempts;
  let max = 0;
  for (const a of task.owners.values()) max = Math.max(max, a);
  return max;
}

export function faultsOnTask(
  task: TrackedTask,
  faults: readonly FaultWindow[],
  rogueIds: ReadonlySet<string>,
  topology: Topology,
  until: number,
): TaskFaults {
  const end = task.final?.finished ?? until;
  const during = faults.filter((f) => f.start <= end && f.end >= task.ackAt);
  const store = during.filter((f) => GLOBAL_FAULTS.has(f.kind)).length;
  const labels = new Set<string>();
  for (const owner of task.owners.keys())
    for (const l of topology.ownerLabels(owner)) labels.add(l);
  const claimsSeen = new Set(task.owners.values()).size;
  const unseenClaims = claimsSeen < attemptsOf(task);
  let process = rogueIds.has(task.id) ? 1 : 0;
  for (const f of during) {
    if (GLOBAL_FAULTS.has(f.kind) || f.kind === 'rogue') continue;
    if (labels.has(f.target) || unseenClaims) process++;
  }
  return { store, process };
}

/** Extra runs a fault explains: at most one per fault, never more than the extra claims. */
export function faultedRuns(task: TrackedTask, tf: TaskFaults): number {
  return Math.min(Math.max(0, attemptsOf(task) - 1), tf.store + tf.process);
}
