/**
 * The five targets of issue 17, each a few checks computed from one run only,
 * with taskgrid's and BullMQ's own figures beside each ratio. A check whose
 * goal is stated for a size this run did not reach (a quick sweep's smaller
 * swarm) is shown but not judged.
 */

import { argumentMBps, type RunResult } from './result-types.js';
import { round } from './stats.js';
import type { Collected } from './steps.js';

export interface Check {
  /** What is measured, in full (report.md). */
  name: string;
  /** A few words for the one-line summary (npm run bench). */
  short: string;
  value: number | undefined;
  /** The value as shown: `2.31×`, `158 MB/s`, `4.2 s`. */
  shown: string;
  /** Undefined: shown for context, not judged. */
  goal: string | undefined;
  met: boolean | undefined;
  taskgrid?: string;
  bullmq?: string;
}

export interface Target {
  id: number;
  name: string;
  checks: Check[];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${round(n, 2)} ms`;

type Kind = 'ratio' | 'MB/s' | 's' | 'count' | 'KB' | 'MB';
function show(value: number | undefined, kind: Kind): string {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  switch (kind) {
    case 'ratio':
      return `${round(value, 2)}×`;
    case 'MB/s':
      return `${round(value, 1)} MB/s`;
    case 's':
      return `${round(value, 2)} s`;
    case 'KB':
      return `${round(value, 1)} KB`;
    case 'MB':
      return `${round(value, 1)} MB`;
    case 'count':
      return int(value);
  }
}

interface Goal {
  text: string;
  at: number;
  up: boolean;
  /** Judged only when this holds (the run was made at the size the goal is stated for). */
  applies?: boolean;
}

function check(
  name: string,
  short: string,
  value: number | undefined,
  kind: Kind,
  goal: Goal | undefined,
  sides: { taskgrid?: string; bullmq?: string } = {},
): Check {
  let met: boolean | undefined;
  if (goal && goal.applies !== false && value !== undefined && !Number.isNaN(value)) {
    met = goal.up ? value >= goal.at : value <= goal.at;
  }
  return {
    name,
    short,
    value,
    shown: show(value, kind),
    goal: goal?.text,
    met,
    ...sides,
  };
}

const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : undefined);

function pick(runs: RunResult[], f: (r: RunResult) => boolean): RunResult | undefined {
  return runs.find(f);
}

function throughputText(r: RunResult | undefined, unit: string): string | undefined {
  if (!r) return undefined;
  const mbps = argumentMBps(r);
  const bytes = mbps !== undefined && (r.arg_bytes ?? 0) > 4096 ? ` (${round(mbps, 1)} MB/s)` : '';
  return `${int(r.throughput)} ${unit}/s${bytes}`;
}

function payloadTarget(runs: RunResult[]): Target {
  const of = (system: string, task: string) =>
    pick(runs, (r) => r.scaling === 'payload' && r.system === system && r.task === task);
  const row = (task: string, label: string, goal?: Goal): Check => {
    const tg = of('taskgrid', task);
    const bull = of('bullmq', task);
    return check(
      `${label}: taskgrid ÷ BullMQ throughput`,
      label,
      ratio(tg?.throughput, bull?.throughput),
      'ratio',
      goal,
      { taskgrid: throughputText(tg, 'tasks'), bullmq: throughputText(bull, 'jobs') },
    );
  };
  const big = of('taskgrid', 'echo64k');
  return {
    id: 1,
    name: 'Large arguments and results',
    checks: [
      row('echo64k', '64 KiB arguments', { text: '≥ 2×', at: 2, up: true }),
      row('echo1m', '1 MiB arguments', { text: '≥ 1.5×', at: 1.5, up: true }),
      check(
        '64 KiB arguments: MB/s of arguments moved end to end',
        '64 KiB',
        big ? argumentMBps(big) : undefined,
        'MB/s',
        { text: '≥ 150 MB/s', at: 150, up: true },
        { taskgrid: throughputText(big, 'tasks') },
      ),
      row('echo1k', '1 KiB arguments'),
      row('result64k', '64 KiB results'),
    ],
  };
}

function latencyTarget(runs: RunResult[]): Target {
  const of = (system: string, submit: string) =>
    pick(runs, (r) => r.scaling === 'latency' && r.system === system && r.submit === submit);
  const sdk = of('taskgrid', 'sdk');
  const rest = of('taskgrid', 'single');
  const restFetch = of('taskgrid', 'single-fetch');
  const bull = of('bullmq', 'single');
  const sides = (r: RunResult | undefined, q: 'p50' | 'p99') => ({
    taskgrid: r ? `${q} ${ms(r.latency[q])}` : undefined,
    bullmq: bull ? `${q} ${ms(bull.latency[q])}` : undefined,
  });
  return {
    id: 2,
    name: 'One-call latency',
    checks: [
      check(
        'SDK `await fn(x)` p50 ÷ BullMQ add → waitUntilFinished p50',
        'SDK p50',
        ratio(sdk?.latency.p50, bull?.latency.p50),
        'ratio',
        { text: '≤ 0.6×', at: 0.6, up: false },
        sides(sdk, 'p50'),
      ),
      check(
        'SDK p99 ÷ BullMQ p99',
        'SDK p99',
        ratio(sdk?.latency.p99, bull?.latency.p99),
        'ratio',
        { text: '≤ 1×', at: 1, up: false },
        sides(sdk, 'p99'),
      ),
      check(
        'REST submit → result p50 ÷ BullMQ p50',
        'REST p50',
        ratio(rest?.latency.p50, bull?.latency.p50),
        'ratio',
        { text: '≤ 1×', at: 1, up: false },
        sides(rest, 'p50'),
      ),
      check(
        'REST p99 ÷ BullMQ p99',
        'REST p99',
        ratio(rest?.latency.p99, bull?.latency.p99),
        'ratio',
        undefined,
        sides(rest, 'p99'),
      ),
      check(
        'REST through fetch p50 ÷ BullMQ p50 (the same calls, the client Node ships)',
        'REST (fetch) p50',
        ratio(restFetch?.latency.p50, bull?.latency.p50),
        'ratio',
        undefined,
        sides(restFetch, 'p50'),
      ),
    ],
  };
}

/** The sizes the swarm goals are stated for. */
const SWARM_MANY = 10_000;
const SWARM_CONNECT = 15_000;
const SWARM_STORM = 10_000;

function swarmTarget(c: Collected): Target {
  const of = (mode: string) => {
    const series = c.runs.filter(
      (r) => r.scaling === 'swarm' && r.system === 'taskgrid' && r.mode === mode,
    );
    const many = series.reduce<RunResult | undefined>(
      (a, r) => (!a || r.workers > a.workers ? r : a),
      undefined,
    );
    const few = series.reduce<RunResult | undefined>(
      (a, r) => (!a || r.workers < a.workers ? r : a),
      undefined,
    );
    return { many, few };
  };
  const checks: Check[] = [];
  for (const mode of ['push', 'pull']) {
    const { many, few } = of(mode);
    checks.push(
      check(
        `${mode} no-op throughput with ${int(many?.workers ?? SWARM_MANY)} connections ÷ with ${int(few?.workers ?? 10)}`,
        `${mode} ${int(many?.workers ?? SWARM_MANY)} ÷ ${int(few?.workers ?? 10)}`,
        ratio(many?.throughput, few?.throughput),
        'ratio',
        { text: '≥ 0.8×', at: 0.8, up: true, applies: (many?.workers ?? 0) >= SWARM_MANY },
        {
          taskgrid:
            many && few ? `${int(many.throughput)}/s vs ${int(few.throughput)}/s` : undefined,
        },
      ),
    );
  }
  const connect = c.swarmConnect;
  checks.push(
    check(
      `${int(connect?.connections ?? SWARM_CONNECT)} connections established, as the server counts them`,
      `${int(connect?.connections ?? SWARM_CONNECT)} connect`,
      connect?.server_seconds,
      's',
      {
        text: `< 5 s at ${int(SWARM_CONNECT)}`,
        at: 5,
        up: false,
        applies: (connect?.connections ?? 0) >= SWARM_CONNECT,
      },
      {
        taskgrid: connect
          ? `swarm's clock ${round(connect.swarm_seconds, 2)} s; ${round(connect.rss_kb_per_connection, 1)} KB RSS and ${round(connect.fds_per_connection, 2)} fd each`
          : undefined,
      },
    ),
  );
  const storm = c.swarmStorm;
  const stormSeconds = storm
    ? Math.max(storm.kill_to_connected_s, storm.kill_to_dispatch_s)
    : undefined;
  checks.push(
    check(
      `reconnect storm: kill -9 of the server holding ${int(storm?.connections ?? SWARM_STORM)} workers → all back and dispatching`,
      'storm',
      stormSeconds,
      's',
      {
        text: `< 10 s at ${int(SWARM_STORM)}`,
        at: 10,
        up: false,
        applies: (storm?.connections ?? 0) >= SWARM_STORM,
      },
      {
        taskgrid: storm
          ? `listening ${round(storm.kill_to_listening_s, 2)} s, dispatching ${round(storm.kill_to_dispatch_s, 2)} s, all connected ${round(storm.kill_to_connected_s, 2)} s after the kill`
          : undefined,
      },
    ),
    check(
      'tasks lost across the storm',
      'lost',
      storm?.tasks_lost,
      'count',
      { text: '0', at: 0, up: false },
      { taskgrid: storm ? `${int(storm.tasks_checked)} checked` : undefined },
    ),
  );
  if (connect) {
    checks.push(
      check(
        'server RSS per connection',
        'RSS each',
        connect.rss_kb_per_connection,
        'KB',
        undefined,
        {
          taskgrid: `${int(connect.connections_per_gib)} connections per GiB; ${int(connect.connections_per_fd_limit)} within the open-file limit of ${int(connect.fd_limit)}`,
        },
      ),
    );
  }
  return { id: 3, name: 'Many workers and reconnect storms', checks };
}

function cpuTarget(runs: RunResult[]): Target {
  const cpu = (system: string, workers: number) =>
    pick(runs, (r) => r.scaling === 'cpu' && r.system === system && r.workers === workers);
  const one = cpu('taskgrid', 1);
  const two = cpu('taskgrid', 2);
  const loop = cpu('plain-loop', 1);
  const loops = cpu('plain-loop', 2);
  const bull1 = cpu('bullmq', 1);
  const bull2 = cpu('bullmq', 2);
  const rate = (r?: RunResult) => (r ? `${int(r.throughput)}/s` : undefined);
  return {
    id: 4,
    name: 'CPU-bound work (fib(25))',
    checks: [
      check(
        `2 workers × 1 thread ÷ two plain loops at once (${rate(loops) ?? 'n/a'})`,
        '2 workers ÷ 2 loops',
        ratio(two?.throughput, loops?.throughput),
        'ratio',
        { text: '≥ 0.9×', at: 0.9, up: true },
        { taskgrid: rate(two), bullmq: rate(bull2) },
      ),
      check(
        '2 workers ÷ BullMQ 2 workers',
        '2 workers ÷ BullMQ',
        ratio(two?.throughput, bull2?.throughput),
        'ratio',
        { text: '≥ 1×', at: 1, up: true },
        { taskgrid: rate(two), bullmq: rate(bull2) },
      ),
      check(
        '1 worker ÷ BullMQ 1 worker',
        '1 worker ÷ BullMQ',
        ratio(one?.throughput, bull1?.throughput),
        'ratio',
        { text: '≥ 1×', at: 1, up: true },
        { taskgrid: rate(one), bullmq: rate(bull1) },
      ),
      check(
        `1 worker ÷ one plain loop alone (${rate(loop) ?? 'n/a'})`,
        '1 worker ÷ 1 loop',
        ratio(one?.throughput, loop?.throughput),
        'ratio',
        undefined,
        { taskgrid: rate(one), bullmq: rate(bull1) },
      ),
    ],
  };
}

function regressionTarget(c: Collected): Target {
  const head = (system: string, mode: string) =>
    pick(
      c.runs,
      (r) =>
        r.scaling === 'headline' &&
        r.system === system &&
        r.mode === mode &&
        r.task === 'noop' &&
        r.submit === 'batch',
    );
  const push = head('taskgrid', 'push');
  const pull = head('taskgrid', 'pull');
  const local = head('taskgrid', 'local');
  const bull = head('bullmq', 'bullmq');
  const rate = (r?: RunResult) => (r ? `${int(r.throughput)}/s` : undefined);
  const memory = c.memory;
  return {
    id: 5,
    name: 'No regressions',
    checks: [
      check(
        'push no-op throughput ÷ BullMQ',
        'push ÷ BullMQ',
        ratio(push?.throughput, bull?.throughput),
        'ratio',
        { text: '≥ 3×', at: 3, up: true },
        { taskgrid: rate(push), bullmq: rate(bull) },
      ),
      check(
        'pull ÷ push no-op throughput',
        'pull ÷ push',
        ratio(pull?.throughput, push?.throughput),
        'ratio',
        { text: '≥ 0.9×', at: 0.9, up: true },
        { taskgrid: rate(pull) },
      ),
      check(
        'local ÷ push no-op throughput',
        'local ÷ push',
        ratio(local?.throughput, push?.throughput),
        'ratio',
        { text: '≥ 0.8×', at: 0.8, up: true },
        { taskgrid: rate(local) },
      ),
      check(
        `server RSS with ${int(memory?.queued_tasks ?? 100_000)} tasks queued`,
        'RSS queued',
        memory?.rss_mb_with_queue,
        'MB',
        {
          text: '< 200 MB at 100,000',
          at: 200,
          up: false,
          applies: (memory?.queued_tasks ?? 0) >= 100_000,
        },
      ),
    ],
  };
}

export function targets(c: Collected): Target[] {
  return [
    payloadTarget(c.runs),
    latencyTarget(c.runs),
    swarmTarget(c),
    cpuTarget(c.runs),
    regressionTarget(c),
  ];
}

/**
 * Met when every check with a goal was judged and met; missed when any judged
 * check missed; n/a otherwise (a goal stated for a size this run did not reach).
 */
export function targetMet(target: Target): boolean | undefined {
  const goals = target.checks.filter((c) => c.goal !== undefined);
  if (goals.some((c) => c.met === false)) return false;
  if (goals.length > 0 && goals.every((c) => c.met === true)) return true;
  return undefined;
}

export function metText(met: boolean | undefined): string {
  return met === undefined ? 'n/a' : met ? 'met' : 'missed';
}

/** One row per target: what this run measured, the goals, met or missed (npm run bench). */
export function targetRows(all: Target[]): string[][] {
  return all.map((t) => {
    const goals = t.checks.filter((c) => c.goal !== undefined);
    const names = (met: boolean | undefined) =>
      goals
        .filter((c) => c.met === met)
        .map((c) => c.short)
        .join(', ');
    const met = targetMet(t);
    return [
      `${t.id}. ${t.name}`,
      goals.map((c) => `${c.short} ${c.shown}`).join(', '),
      goals.map((c) => `${c.short} ${c.goal}`).join(', '),
      met === false
        ? `missed (${names(false)})`
        : met === undefined
          ? `n/a (not measured, or not at the size of its goal: ${names(undefined)})`
          : 'met',
    ];
  });
}

/** A plain-text table with padded columns, for the terminal. */
export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((n) => '-'.repeat(n + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}
