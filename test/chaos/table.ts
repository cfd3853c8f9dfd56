/**
 * What a chaos run prints: the invariant table, a few lines about what was
 * done to the grid, and on a violation the seed and each bad task's history
 * (its operations and the faults around it), so it can be replayed.
 */

import type { Summary, Violation } from './checker.js';
import type { History, HistoryEvent } from './history.js';
import type { TrackedTask } from './task-book.js';
import { describe, short } from './task-kinds.js';

export interface RunFacts {
  seed: number;
  minutes: number;
  graceMs: number;
  stallMs: number;
  faults: ReadonlyMap<string, number>;
  submitAnswers: ReadonlyMap<string, number>;
  cancelAnswers: ReadonlyMap<string, number>;
  keys: string;
  unsafeRetries: number;
  subscriberErrors: ReadonlyMap<string, number>;
  maxRssKib: ReadonlyMap<string, number>;
  /** First and last RSS sample per server (a restart starts it again). */
  rssFirstLast: ReadonlyMap<string, [number, number]>;
  historyPath: string | undefined;
}

const mib = (kib: number | undefined) =>
  kib === undefined ? '-' : `${(kib / 1024).toFixed(0)} MiB`;

export function formatTable(s: Summary, f: RunFacts): string {
  const rss = [...f.maxRssKib.entries()].sort().map(([label, kib]) => `${label} ${mib(kib)}`);
  const rows: [string, string, string][] = [
    ['tasks accepted (2xx)', String(s.accepted), ''],
    ['terminal', String(s.terminal), '1'],
    ['stuck (not terminal at the end)', String(s.stuck), '1'],
    ['late (terminal past its bound)', String(s.late), '1'],
    ['lost (acknowledged, gone from the store)', String(s.lost), '1, 2'],
    ['wrong result', String(s.wrong), '5'],
    ['changed after terminal', String(s.changed), '2'],
    ['503 that ran', String(s.ran503), '3'],
    ['duplicate runs allowed / not allowed', `${s.dupAllowed} / ${s.dupNotAllowed}`, '5'],
    ['subscriber misses', String(s.subMisses), '4'],
    ['long-poll misses', String(s.pollMisses), '4'],
    [`/healthz stalls over ${f.stallMs} ms (longest)`, `${s.stalls} (${s.maxStallMs} ms)`, '5'],
    ['rogue frames not refused', String(s.rogueAccepted), '5'],
    [
      'HTTP 5xx other than 503 (not an invariant)',
      String([...s.serverErrors.values()].reduce((a, b) => a + b, 0)),
      '',
    ],
    ['max server RSS', rss.join(', '), ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length), 5);
  const w1 = Math.max(...rows.map((r) => r[1].length), 5);
  const line = (a: string, b: string, c: string) =>
    `| ${a.padEnd(w0)} | ${b.padStart(w1)} | ${c.padEnd(9)} |`;
  const out = [
    line('check', 'count', 'invariant'),
    `| ${'-'.repeat(w0)} | ${'-'.repeat(w1 - 1)}: | ${'-'.repeat(9)} |`,
    ...rows.map((r) => line(...r)),
  ];
  const list = (m: ReadonlyMap<string, number>) =>
    [...m.entries()].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  out.push(
    '',
    `bound of a task: taken (first seen RUNNING, else its ack) + longest function timeout (prefetch wait) + (1 + faulted runs) × (timeout + lease) + grace ${f.graceMs / 1000} s + store downtime`,
    `faults: ${list(f.faults)}`,
    `submit answers: ${list(f.submitAnswers)}; cancel answers: ${list(f.cancelAnswers)}`,
    `5xx other than 503: ${list(s.serverErrors)}`,
    `server RSS first → last sample: ${[...f.rssFirstLast.entries()].map(([k, [a, b]]) => `${k} ${mib(a)} → ${mib(b)}`).join(', ')}`,
    `idempotency keys: ${f.keys}; unsafe retries (503 or no answer, retried without a key): ${f.unsafeRetries}`,
    `stored tasks from unanswered submits (allowed): ${s.unanswered}`,
    `subscriber waits that failed and were retried: ${list(f.subscriberErrors)}`,
  );
  if (f.historyPath) out.push(`history: ${f.historyPath}`);
  return out.join('\n');
}

function eventLine(history: History, e: HistoryEvent): string {
  return `      ${history.format(e)}`;
}

/** The violations, grouped, then the history of a few bad tasks of each kind of violation. */
export function formatViolations(
  s: Summary,
  history: History,
  replay: string,
  perCategory = 3,
): string {
  const out: string[] = [];
  const byCategory = new Map<string, Violation[]>();
  for (const v of s.violations) {
    const list = byCategory.get(v.category) ?? [];
    list.push(v);
    byCategory.set(v.category, list);
  }
  out.push(`VIOLATIONS (${s.violations.length}); replay with: ${replay}`);
  for (const [category, list] of byCategory) {
    out.push(`  ${category} (invariant ${list[0]?.invariant}): ${list.length}`);
  }
  const faults = history.events.filter((e) => e.kind === 'fault');
  const seen = new Set<string>();
  const shownPer = new Map<string, number>();
  for (const v of s.violations) {
    const key = v.task?.id ?? v.nonce ?? v.reason;
    if (seen.has(key)) continue;
    const shown = shownPer.get(v.category) ?? 0;
    if (shown >= perCategory) continue;
    seen.add(key);
    shownPer.set(v.category, shown + 1);
    const reasons = s.violations
      .filter((x) => (x.task?.id ?? x.nonce ?? x.reason) === key)
      .map((x) => `${x.category}: ${x.reason}`);
    out.push('');
    if (v.task) {
      const t = v.task;
      out.push(
        `  task ${t.id}  ${t.kind} nonce ${t.nonce}  acknowledged ${history.rel(t.ackAt)} by ${t.server}`,
        `    expected ${describe(t.expected)}; store: ${t.final?.status ?? 'nothing'} ${short(t.final?.result, 120)}; attempts ${t.final?.attempts ?? '?'}${t.rogue ? '; held by the rogue' : ''}`,
        `    lease owners seen: ${[...t.owners.entries()].map(([o, a]) => `${o} (attempt ${a})`).join(', ') || 'none'}`,
        ...reasons.map((r) => `    ${r}`),
        '    history:',
      );
      const from = t.ackAt - 3000;
      const to = (t.final?.finished ?? t.firstTerminal?.at ?? Date.now()) + 1000;
      const events = [
        ...history.forNonce(t.nonce),
        ...history.forTask(t.id),
        ...faults.filter((f) => f.start <= to && f.end >= from),
      ];
      const unique = [...new Set(events)].sort((a, b) => a.start - b.start);
      // Re-reads repeat; the first dozen and the last few tell the story.
      const reads = unique.filter((e) => e.kind === 'read');
      const keep = new Set([...reads.slice(0, 6), ...reads.slice(-3)]);
      for (const e of unique) if (e.kind !== 'read' || keep.has(e)) out.push(eventLine(history, e));
    } else {
      out.push(...reasons.map((r) => `  ${r}`));
      if (v.nonce) {
        for (const e of history.forNonce(v.nonce)) out.push(eventLine(history, e));
        const near = history.forNonce(v.nonce)[0];
        if (near) {
          for (const f of faults.filter(
            (x) => x.start <= near.end + 3000 && x.end >= near.start - 3000,
          ))
            out.push(eventLine(history, f));
        }
      }
    }
  }
  const rest = s.violations.filter((v) => v.task && !seen.has(v.task.id));
  if (rest.length > 0) {
    out.push(
      '',
      "  the other violations, one line each (each task's history is in the history file):",
    );
    for (const v of rest.slice(0, 60)) {
      const t = v.task as TrackedTask;
      out.push(
        `    ${t.id.slice(0, 8)} ${t.kind} ${t.nonce} via ${t.server} ${history.rel(t.ackAt)}: ${v.category}: ${v.reason} (store ${t.final?.status ?? '-'}, attempts ${t.final?.attempts ?? '?'})`,
      );
    }
    if (rest.length > 60) out.push(`    … and ${rest.length - 60} more`);
  }
  const untold = s.violations.filter((v) => !v.task && !seen.has(v.nonce ?? v.reason)).length;
  if (untold > 0) out.push(`  … and ${untold} more violation(s) not tied to an acknowledged task`);
  return out.join('\n');
}
