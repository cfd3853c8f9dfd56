/**
 * The invariant checker. Runs once, after every fault was healed and the
 * quiet period passed, over the history, the task book and the store's
 * final state. Each finding names its invariant (README "Guarantees"):
 *   1 terminal within the bound          (stuck, late)
 *   2 a terminal result never changes    (changed after terminal; lost)
 *   3 a 503 leaves no task that runs     (503 that ran)
 *   4 subscribers and long-polls learn every outcome
 *   5 no input stops a server serving others or poisons shared state
 *     (wrong results of honest tasks, unexplained re-runs, /healthz stalls,
 *      malformed frames not refused)
 */

import { boundOf } from './bounds.js';
import { faultedRuns, faultsOnTask } from './fault-attribution.js';
import { GLOBAL_FAULTS } from './faults.js';
import type { FaultWindow, History } from './history.js';
import type { HealthSample } from './monitors.js';
import type { StoredTask } from './store-reader.js';
import { type TaskBook, TERMINAL, type TrackedTask } from './task-book.js';
import { mismatch, short } from './task-kinds.js';
import type { Topology } from './topology.js';

export type Category =
  | 'stuck'
  | 'late'
  | 'lost'
  | 'wrong result'
  | 'changed after terminal'
  | '503 that ran'
  | 'duplicate run'
  | 'subscriber miss'
  | 'long-poll miss'
  | 'server stall'
  | 'rogue frame accepted';

export interface Violation {
  category: Category;
  invariant: number;
  task?: TrackedTask;
  /** For a task no client got an id for: the nonce its submits carried. */
  nonce?: string;
  reason: string;
}

export interface CheckInput {
  book: TaskBook;
  history: History;
  topology: Topology;
  leaseMs: number;
  graceMs: number;
  stallMs: number;
  subscriberLabels: readonly string[];
  rogueIds: ReadonlySet<string>;
  unacknowledged: readonly StoredTask[];
  finishCounts: ReadonlyMap<string, number>;
  health: readonly HealthSample[];
  rogueNotes: readonly string[];
  checkedAt: number;
  /**
   * Tasks that had a long-poller and the subscribers (invariant 4 is checked
   * for these only); default every task. The three-server run's 100,000
   * tasks cannot each hold a long-poll, so it watches a seeded sample.
   */
  watched?: (task: TrackedTask) => boolean;
  /** How late a parked long-poll may wake after the store recorded the outcome; default 1000 ms. */
  wakeSlackMs?: number;
}

export interface Summary {
  accepted: number;
  terminal: number;
  stuck: number;
  lost: number;
  late: number;
  wrong: number;
  changed: number;
  ran503: number;
  /** Stored tasks from submits that got no answer (allowed: the client could not know). */
  unanswered: number;
  dupAllowed: number;
  dupNotAllowed: number;
  subMisses: number;
  pollMisses: number;
  stalls: number;
  maxStallMs: number;
  rogueAccepted: number;
  /** Answers 5xx other than 503 (an error the API does not document), by operation. */
  serverErrors: Map<string, number>;
  violations: Violation[];
}

export function check(input: CheckInput): Summary {
  const { book, history, topology } = input;
  const faults = history.faults();
  const violations: Violation[] = [];
  const add = (category: Category, invariant: number, reason: string, task?: TrackedTask) =>
    violations.push({ category, invariant, reason, ...(task ? { task } : {}) });
  const addUnacknowledged = (reason: string, nonce: string | undefined) =>
    violations.push({
      category: '503 that ran',
      invariant: 3,
      reason,
      ...(nonce ? { nonce } : {}),
    });
  const s: Summary = {
    accepted: book.tasks.size,
    terminal: 0,
    stuck: 0,
    lost: 0,
    late: 0,
    wrong: 0,
    changed: 0,
    ran503: 0,
    unanswered: 0,
    dupAllowed: 0,
    dupNotAllowed: 0,
    subMisses: 0,
    pollMisses: 0,
    stalls: 0,
    maxStallMs: 0,
    rogueAccepted: input.rogueNotes.length,
    serverErrors: new Map(),
    violations,
  };
  for (const e of history.events) {
    if (e.http === undefined || e.http < 500 || e.http === 503) continue;
    const key = `${e.kind} ${e.http}`;
    s.serverErrors.set(key, (s.serverErrors.get(key) ?? 0) + 1);
  }
  const bounds = { leaseMs: input.leaseMs, graceMs: input.graceMs };

  for (const task of book.tasks.values()) {
    const final = task.final;
    const tf = faultsOnTask(task, faults, input.rogueIds, topology, input.checkedAt);
    const faulted = tf.store + tf.process > 0;
    const bound = boundOf(task, faults, bounds, faultedRuns(task, tf));
    const rel = (t: number) => `${((t - task.ackAt) / 1000).toFixed(1)} s after its ack`;
    if (!final?.status) {
      s.lost++;
      add('lost', 2, 'the store has no record of this acknowledged task', task);
      continue;
    }
    if (!TERMINAL.has(final.status)) {
      s.stuck++;
      add(
        'stuck',
        1,
        `still ${final.status} at the end, ${rel(input.checkedAt)}; bound ${rel(bound)}`,
        task,
      );
    } else {
      s.terminal++;
      const finishedAt = final.finished ?? task.firstTerminal?.at ?? input.checkedAt;
      if (finishedAt > bound) {
        s.late++;
        add('late', 1, `terminal ${rel(finishedAt)}; bound ${rel(bound)}`, task);
      }
      // What the rogue held ends however the rogue made it end.
      const lostByFault =
        faulted && final.status === 'FAILED' && /"name":"WorkerLostError"/.test(final.result ?? '');
      const wrong =
        input.rogueIds.has(task.id) || lostByFault
          ? undefined
          : mismatch(task.expected, final.status, final.result);
      if (wrong) {
        s.wrong++;
        add('wrong result', 5, wrong, task);
      }
      const first = task.firstTerminal;
      if (first && (first.status !== final.status || first.result !== final.result)) {
        task.changes.push(
          `the store holds ${final.status} ${short(final.result, 80)}; ${first.via} first read ${first.status} ${short(first.result, 80)}`,
        );
      }
      const finishes = input.finishCounts.get(task.id) ?? 0;
      if (finishes > 1) task.changes.push(`the store announced it finished ${finishes} times`);
      if (task.changes.length > 0) {
        s.changed++;
        add('changed after terminal', 2, task.changes.join(' | '), task);
      }
      if (input.watched?.(task) ?? true) {
        for (const label of input.subscriberLabels) {
          if (!task.subLearned.has(label)) {
            s.subMisses++;
            add('subscriber miss', 4, `${label} never received the outcome`, task);
          }
        }
        if (!task.pollLearned) {
          s.pollMisses++;
          add('long-poll miss', 4, 'its long-poller never learned the outcome', task);
        }
        checkPolls(task, finishedAt, history, faults, input.wakeSlackMs ?? 1000, (reason) => {
          s.pollMisses++;
          add('long-poll miss', 4, reason, task);
        });
      }
    }
    // Claims handed back unrun (released) are not runs.
    const dups = Math.max(0, final.attempts - final.released - 1);
    if (dups > 0) {
      if (faulted) s.dupAllowed += dups;
      else {
        s.dupNotAllowed += dups;
        add(
          'duplicate run',
          5,
          `run up to ${final.attempts - final.released} times (claimed ${final.attempts}, released ${final.released}) with no fault on a process that held it`,
          task,
        );
      }
    }
  }

  for (const stored of input.unacknowledged) {
    const answers = stored.nonce ? (book.submitAnswers.get(stored.nonce) ?? []) : [];
    const ran = stored.attempts > 0 || TERMINAL.has(stored.status ?? '');
    if (answers.includes(503)) {
      s.ran503++;
      addUnacknowledged(
        `task ${stored.id} (nonce ${stored.nonce}) is in the store, ${stored.status}, ${ran ? `claimed ${stored.attempts} time(s)` : 'not run yet'}; its submit(s) answered ${answers.join(', ')}`,
        stored.nonce,
      );
    } else s.unanswered++;
  }

  for (const sample of input.health) {
    const ms = sample.end - sample.start;
    const excused = faults.some(
      (f) =>
        (f.target === sample.server || GLOBAL_FAULTS.has(f.kind)) &&
        f.start <= sample.end &&
        f.end >= sample.start,
    );
    if (excused) continue;
    s.maxStallMs = Math.max(s.maxStallMs, ms);
    if (ms <= input.stallMs) continue;
    // When the other server was slow over the same time too, the machine
    // (two shared cores) stalled, not this server.
    const machineWide = input.health.some(
      (o) =>
        o.server !== sample.server &&
        o.start < sample.end &&
        o.end > sample.start &&
        o.end - o.start > input.stallMs / 2,
    );
    if (machineWide) continue;
    s.stalls++;
    add(
      'server stall',
      5,
      `${sample.server} took ${ms} ms to answer /healthz at ${history.rel(sample.start)} with no fault on it or the store (the other server answered meanwhile)`,
    );
  }
  for (const note of input.rogueNotes) add('rogue frame accepted', 5, note);
  return s;
}

/**
 * A long-poll parked before the task finished must wake with the outcome
 * when it is stored: one that answered "not terminal", or answered only at
 * its own deadline, more than `slackMs` (a second) after the store recorded
 * the end missed the wake-up. Faults on that server or the store after the
 * outcome was recorded lengthen the allowance by their duration.
 */
function checkPolls(
  task: TrackedTask,
  finishedAt: number,
  history: History,
  faults: readonly FaultWindow[],
  slackMs: number,
  report: (reason: string) => void,
): void {
  for (const e of history.forTask(task.id)) {
    if (e.kind !== 'poll' || e.http !== 200 || !e.status) continue;
    if (e.start >= finishedAt || e.end <= finishedAt) continue;
    let margin = slackMs;
    for (const f of faults) {
      if (f.target !== e.target && !GLOBAL_FAULTS.has(f.kind)) continue;
      margin += Math.max(0, Math.min(e.end, f.end) - Math.max(finishedAt, f.start));
    }
    const late = e.end - finishedAt;
    if (late <= margin) continue;
    const what = TERMINAL.has(e.status) ? `woke with ${e.status} only` : `answered ${e.status}`;
    report(
      `a long-poll on ${e.target} parked at ${history.rel(e.start)} ${what} at ${history.rel(e.end)}, ${late} ms after the store recorded the outcome`,
    );
  }
}
