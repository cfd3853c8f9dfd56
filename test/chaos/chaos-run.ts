/**
 * One chaos run, start to finish: start the processes, register the task
 * kinds, run the seeded load and the seeded nemesis side by side with every
 * reader and monitor recording, heal, wait out the quiet period, read
 * everything back, and check the invariants.
 */

import { randomUUID } from 'node:crypto';
import { boundOf } from './bounds.js';
import type { ChaosConfig } from './chaos-config.js';
import { check, type Summary } from './checker.js';
import { faultedRuns, faultsOnTask } from './fault-attribution.js';
import { Nemesis, planFaults } from './faults.js';
import type { FaultWindow } from './history.js';
import { Load, planLoad, sleep } from './load.js';
import { readResult } from './readers.js';
import { mapLimit, openRunKit } from './run-kit.js';
import { formatTable, formatViolations, type RunFacts } from './table.js';
import type { TrackedTask } from './task-book.js';
import { Topology } from './topology.js';

export interface ChaosResult {
  summary: Summary;
  facts: RunFacts;
  table: string;
  /** Empty when there was no violation. */
  violations: string;
}

export async function runChaos(c: ChaosConfig, replay: string): Promise<ChaosResult> {
  const log = c.log;
  const prefix = `chaos${c.seed}:`;
  const token = `chaos-${randomUUID()}`;
  log(`chaos run: seed ${c.seed}, ${(c.durationMs / 60_000).toFixed(2)} min of load and faults`);
  const topology = await Topology.start({
    prefix,
    token,
    leaseMs: c.leaseMs,
    heartbeatMs: c.heartbeatMs,
    heartbeatTolerance: c.heartbeatTolerance,
    taskTimeoutMs: c.serverTimeoutMs,
    maxAttempts: c.maxAttempts,
    workersPerServer: c.workersPerServer,
    workerThreads: c.workerThreads,
  });
  const stoppers: (() => unknown)[] = [];
  try {
    const kit = await openRunKit({
      topology,
      prefix,
      token,
      seed: c.seed,
      pollWaitMs: c.pollWaitMs,
      stoppers,
    });
    const { servers, history, book, functionIds, finishLog, store, readerCtx } = kit;
    const { pollers, subscribers, rereader, prober, rss } = kit;
    const ownerTimer = setInterval(
      () => void store.sampleOwners(book.tasks.values(), history),
      500,
    );
    stoppers.push(() => clearInterval(ownerTimer));

    const rogueIds = new Set<string>();
    // A task past its bound is already a violation: it must not hold back the load.
    const boundNow = (t: TrackedTask, faults: readonly FaultWindow[]) =>
      boundOf(
        t,
        faults,
        c,
        faultedRuns(t, faultsOnTask(t, faults, rogueIds, topology, Date.now())),
      );
    const outstanding = () => {
      const faults = history.faults();
      const now = Date.now();
      let n = book.pendingItems;
      for (const t of book.tasks.values()) if (!t.terminal && now < boundNow(t, faults)) n++;
      return n;
    };
    const load = new Load(
      {
        book,
        history,
        servers,
        token,
        functionIds,
        runTag: `${c.seed}-${randomUUID().slice(0, 8)}`,
        outstanding,
      },
      c.maxOutstanding,
    );
    const keys = await load.probeIdempotency();
    log(`idempotency keys: ${keys}`);

    const nemesis = new Nemesis({
      topology,
      history,
      seed: c.seed,
      foreignIds: () =>
        [...book.tasks.values()].filter((t) => !t.terminal && !rogueIds.has(t.id)).map((t) => t.id),
      bait: (server) => load.bait(server),
      onRogueTasks: (ids) => {
        for (const id of ids) rogueIds.add(id);
      },
      log,
    });
    const loadPlan = planLoad({
      seed: c.seed,
      durationMs: c.durationMs,
      leaseMs: c.leaseMs,
      gapMs: c.gapMs,
      batchChance: c.batchChance,
      bursts: c.bursts,
      keyedShare: c.keyedShare,
      weights: c.weights,
    });
    const faultPlan = c.faults
      ? planFaults({
          seed: c.seed,
          durationMs: c.durationMs,
          leaseMs: c.leaseMs,
          gapMs: c.faultGapMs,
          workers: topology.workers.length,
          weights: c.faultWeights,
          cycle: c.faultCycle,
        })
      : [];
    log(`plan: ${loadPlan.length} submits, ${faultPlan.length} faults`);

    const t0 = Date.now();
    const loadDone = load.run(loadPlan, t0);
    const faultsDone = nemesis.run(faultPlan, t0);
    await sleep(c.durationMs);
    load.stop();
    nemesis.stop();
    await faultsDone;
    await topology.heal();
    await loadDone;
    log(
      `load and faults over after ${((Date.now() - t0) / 1000).toFixed(1)} s; ${book.tasks.size} tasks accepted; quiet period`,
    );

    // Quiet period: until every task is terminal, or the cap. A task still not
    // terminal after a quiet cap with no faults is stuck (left behind); one that
    // ended past its bound is late (the checker reports both).
    const quietStart = Date.now();
    for (;;) {
      const waiting = [...book.tasks.values()].filter((t) => !t.terminal);
      if (waiting.length === 0 || Date.now() - quietStart > c.quietCapMs) break;
      await sleep(250);
    }
    // Let long-polls and subscribers deliver what just finished.
    const settleEnd = Date.now() + c.settleMs;
    while (Date.now() < settleEnd) {
      const open = [...book.tasks.values()].filter(
        (t) => t.terminal && (!t.pollLearned || t.subLearned.size < subscribers.labels.length),
      );
      if (open.length === 0) break;
      await sleep(200);
    }
    log(
      `quiet period over after ${((Date.now() - quietStart) / 1000).toFixed(1)} s; reading everything back`,
    );

    // Final reads: every task on every server, twice, then the store itself.
    const all = [...book.tasks.values()];
    for (let round = 0; round < 2; round++) {
      await mapLimit(all, 16, async (task: TrackedTask) => {
        for (const server of servers) await readResult(readerCtx, task, server, 'read', 0);
      });
    }
    await store.readFinal(all);
    const unacknowledged = await store.unacknowledged(new Set(book.tasks.keys()));
    const checkedAt = Date.now();
    rereader.stop();
    await pollers.stop();
    subscribers.close();

    for (const id of rogueIds) {
      const task = book.tasks.get(id);
      if (task) task.rogue = true;
    }
    const summary = check({
      book,
      history,
      topology,
      leaseMs: c.leaseMs,
      graceMs: c.graceMs,
      stallMs: c.stallMs,
      subscriberLabels: subscribers.labels,
      rogueIds,
      unacknowledged,
      finishCounts: finishLog.counts,
      health: prober.samples,
      rogueNotes: nemesis.rogueNotes,
      checkedAt,
    });
    if (c.historyPath) history.write(c.historyPath);
    const facts: RunFacts = {
      seed: c.seed,
      minutes: c.durationMs / 60_000,
      graceMs: c.graceMs,
      stallMs: c.stallMs,
      faults: nemesis.counts,
      submitAnswers: load.answers,
      cancelAnswers: load.cancelAnswers,
      keys,
      unsafeRetries: load.unsafeRetries,
      subscriberErrors: subscribers.errors(),
      maxRssKib: rss.max,
      rssFirstLast: rss.firstAndLast(),
      historyPath: c.historyPath,
    };
    const table = formatTable(summary, facts);
    const violations =
      summary.violations.length > 0 ? formatViolations(summary, history, replay) : '';
    return { summary, facts, table, violations };
  } finally {
    for (const stop of stoppers.reverse()) {
      try {
        await stop();
      } catch {
        // closing anyway
      }
    }
    await topology.close();
  }
}
