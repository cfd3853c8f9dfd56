/**
 * Issue 16's figures: priority-mixed no-op throughput against FIFO on each
 * mode (goal ≥ 0.8×), and the Redis memory per retained task with the bound
 * it gives at the default result TTL. The best round of each kind is compared,
 * so one round slowed by a neighbour on a shared machine does not decide it.
 */

import type { RunResult } from './result-types.js';
import type { RetentionResult } from './retention-bench.js';
import { round } from './stats.js';
import type { Collected } from './steps.js';
import type { Check } from './targets.js';

/** A priority-mixed run reaches at least this share of the FIFO figure (issue 16). */
export const PRIORITY_GOAL = 0.8;

export interface LifecycleFigure {
  mode: string;
  /** tasks/s of each round, in the order run. */
  fifo_runs: number[];
  priority_runs: number[];
  /** The best round of each. */
  fifo: number;
  priority: number;
  ratio: number;
  goal: number;
  met: boolean;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
/** 86.4 for a day at 1,000/s; whole millions once the figure is large. */
const millions = (n: number) => (n >= 1e8 ? int(n / 1e6) : String(round(n / 1e6, 1)));

export function lifecycleFigures(runs: readonly RunResult[]): LifecycleFigure[] {
  const out: LifecycleFigure[] = [];
  for (const mode of ['push', 'pull', 'local']) {
    const of = (mixed: boolean) =>
      runs
        .filter(
          (r) => r.scaling === 'lifecycle' && r.mode === mode && Boolean(r.priority_mix) === mixed,
        )
        .map((r) => r.throughput);
    const fifoRuns = of(false);
    const priorityRuns = of(true);
    if (fifoRuns.length === 0 || priorityRuns.length === 0) continue;
    const fifo = Math.max(...fifoRuns);
    const priority = Math.max(...priorityRuns);
    const ratio = priority / fifo;
    out.push({
      mode,
      fifo_runs: fifoRuns,
      priority_runs: priorityRuns,
      fifo,
      priority,
      ratio,
      goal: PRIORITY_GOAL,
      met: ratio >= PRIORITY_GOAL,
    });
  }
  return out;
}

export function lifecycleChecks(figures: readonly LifecycleFigure[]): Check[] {
  return figures.map((f) => ({
    name: `${f.mode} priority-mixed ÷ FIFO no-op throughput (best of ${f.fifo_runs.length}: ${int(f.priority)}/s ÷ ${int(f.fifo)}/s)`,
    short: `${f.mode} priority ÷ FIFO`,
    value: f.ratio,
    shown: `${round(f.ratio, 2)}×`,
    goal: `≥ ${PRIORITY_GOAL}×`,
    met: f.met,
    taskgrid: `${int(f.priority)}/s vs ${int(f.fifo)}/s`,
  }));
}

function runTable(runs: readonly RunResult[]): string[] {
  return [
    '| mode | submit | tasks | seconds | tasks/s | latency p50 | p99 | queue wait p50 | p99 |',
    '|---|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.mode} | ${r.priority_mix ? 'priority-mixed' : 'FIFO'} | ${r.tasks} | ${round(r.seconds, 3)} | ${Math.round(r.throughput)} | ${round(r.latency.p50)} | ${round(r.latency.p99)} | ${round(r.queue_wait.p50)} | ${round(r.queue_wait.p99)} |`,
    ),
  ];
}

/** Queue wait by priority in each mode's best priority-mixed round: higher priorities wait less. */
function waits(runs: readonly RunResult[]): string[] {
  const lines: string[] = [];
  for (const mode of ['push', 'pull', 'local']) {
    const best = runs
      .filter((r) => r.mode === mode && r.queue_wait_by_priority)
      .reduce<RunResult | undefined>(
        (a, r) => (!a || r.throughput > a.throughput ? r : a),
        undefined,
      );
    const byPriority = best?.queue_wait_by_priority;
    if (!byPriority) continue;
    const cells = byPriority.map(
      (p) =>
        `${p.priority}: ${round(p.queue_wait.p50)} ms (${int(p.tasks)} tasks, p99 ${round(p.queue_wait.p99)} ms)`,
    );
    lines.push(`- ${mode}: ${cells.join('; ')}`);
  }
  return lines;
}

function retentionLines(r: RetentionResult): string[] {
  const gb = (n: number) => (n >= 10 ? int(n) : String(round(n, 2)));
  return [
    `${int(r.tasks)} finished no-op tasks (arguments \`[]\`, result \`null\`), submitted in batches of 1,000 to a ${r.mode}-mode server with the default \`--result-ttl\` of ${int(r.result_ttl_seconds)} s (one task's TTL read back: ${int(r.ttl_seen_seconds)} s), on a fresh Redis started for this measurement. Redis \`used_memory\` grew from ${int(r.used_memory_before)} to ${int(r.used_memory_after)} bytes:`,
    '',
    `- **${int(r.bytes_per_task)} bytes of Redis memory per retained task** (Redis keys per task: ${round(r.keys_per_task, 2)}; the task hash alone is ${int(r.task_hash_bytes)} bytes by \`MEMORY USAGE\`, the rest is the keyspace entry and the listing indexes).`,
    ...r.bounds.map(
      (b) =>
        `- Bound, bytes per task × tasks/s × TTL: at ${int(b.tasks_per_second)} tasks/s (${b.rate_from}), one day holds ${millions(b.tasks_held)} M tasks = **${gb(b.gb)} GB** (10⁹ bytes).`,
    ),
    '',
  ];
}

export function lifecycleSection(c: Collected): string[] {
  const runs = c.runs.filter((r) => r.scaling === 'lifecycle');
  if (runs.length === 0 && !c.retention) return [];
  const out = ['## Task lifecycle (issue 16): priorities and retention', ''];
  const figures = lifecycleFigures(runs);
  if (runs.length > 0) {
    const mix = runs.find((r) => r.priority_mix)?.priority_mix;
    // In the order of the values: a record's integer-like keys would come out sorted, −10 last.
    const perBatch = mix
      ? mix.values.map((p) => `${p}: ${mix.batches[String(p)] ?? 0}`).join(', ')
      : '';
    out.push(
      `FIFO: the headline no-op workload (batches of 1,000, no submit options) on 2 workers × 2 threads (local: 4 threads). Priority-mixed: the same batches, each submitted with one \`priority\` drawn from {${mix?.values.join(', ') ?? ''}} by a generator seeded with ${mix?.seed ?? ''} (batches per priority: ${perBatch}). Each mode runs on one cluster, all FIFO rounds first; the best round of each is compared. What priorities cost: a batch of a higher priority than tasks held ahead of time makes the holders hand back those they have not started (a release and a claim again), and tasks with a priority other than 0 go through a sorted set instead of the list.`,
      '',
      '| mode | FIFO tasks/s (rounds) | priority-mixed tasks/s (rounds) | priority-mixed ÷ FIFO | goal | met |',
      '|---|---|---|---|---|---|',
      ...figures.map(
        (f) =>
          `| ${f.mode} | ${int(f.fifo)} (${f.fifo_runs.map(int).join(', ')}) | ${int(f.priority)} (${f.priority_runs.map(int).join(', ')}) | ${round(f.ratio, 2)}× | ≥ ${f.goal}× | ${f.met ? 'met' : 'missed'} |`,
      ),
      '',
      'Queue wait (submit → start) p50 by priority, in the best priority-mixed round of each mode, highest priority first:',
      '',
      ...waits(runs),
      '',
      ...runTable(runs),
      '',
    );
  }
  if (c.retention)
    out.push('### Redis memory per retained task', '', ...retentionLines(c.retention));
  return out;
}

/** Lines for the terminal after the targets table. */
export function lifecycleSummary(c: Collected): string[] {
  const lines = lifecycleChecks(lifecycleFigures(c.runs)).map(
    (k) => `${k.name}: ${k.shown} (goal ${k.goal}, ${k.met ? 'met' : 'missed'})`,
  );
  const r = c.retention;
  if (r) {
    const bound = r.bounds[0];
    lines.push(
      `Redis memory per retained no-op task: ${int(r.bytes_per_task)} bytes (${int(r.tasks)} tasks)` +
        (bound
          ? `; at ${int(bound.tasks_per_second)} tasks/s a ${int(r.result_ttl_seconds)} s TTL holds ${millions(bound.tasks_held)} M tasks = ${round(bound.gb, 2)} GB`
          : ''),
    );
  }
  return lines;
}
