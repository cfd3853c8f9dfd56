/**
 * The three-server run (issue 15, part 3), start to finish: a private
 * append-only Redis, three servers on it under one prefix and token, two
 * workers each; N no-op tasks (each returns its nonce) submitted in batches
 * round robin over the three servers by keyed clients that retry 503, 504
 * and dropped connections on the next server; mid-run one server is
 * kill -9'd and restarted on its port, and one worker of another server is
 * kill -9'd and restarted (three-servers-faults.ts). Then every task must
 * be terminal, and the chaos checker (checker.ts) classifies each one from
 * the store's final record: lost, stuck, late, wrong result, changed, and
 * re-runs allowed only where a fault hit a process that held the task.
 *
 * What differs from the chaos run, for 100,000 tasks on two cores: lease
 * holders are read from the leases ZSET (lease-sampler.ts), not task by
 * task; a seeded 1-in-`watchEvery` sample of tasks gets a long-poller and a
 * subscriber per server (invariant 4 is checked on those); "every task
 * terminal" is learned from the store's `finished` events and the store;
 * and besides the checker's verdict, each re-run is matched by task id to
 * the leases a killed process held when it died.
 */

import { randomUUID } from 'node:crypto';
import { TestCluster } from '../helpers/redis-cluster.js';
import { check, type Summary } from './checker.js';
import { LeaseSampler } from './lease-sampler.js';
import { Load, type OpPlan, sleep } from './load.js';
import { deriveSeed, Prng } from './prng.js';
import { readResult } from './readers.js';
import { mapLimit, openRunKit } from './run-kit.js';
import { formatTable, formatViolations, type RunFacts } from './table.js';
import { TERMINAL, type TrackedTask } from './task-book.js';
import { mismatch } from './task-kinds.js';
import type { ThreeServersConfig } from './three-servers-config.js';
import { type FaultPlan, planFaults, ThreeServerFaults } from './three-servers-faults.js';
import { Topology } from './topology.js';

export interface ThreeServersResult {
  summary: Summary;
  facts: RunFacts;
  /** Tasks of the plan that were acknowledged (the idempotency probe not counted). */
  submitted: number;
  /** Tasks COMPLETED with their own nonce as the result. */
  completedRight: number;
  /** Re-runs of tasks a killed process held when it died (one per kill that held it). */
  dupSeen: number;
  /** Every other re-run (the checker may allow some: it gives claims it did not see the benefit of the doubt). */
  dupDoubt: number;
  /** Leases held by the killed server and the killed worker when they died. */
  heldAtKill: { server: number; worker: number };
  /** First submit → every task terminal. */
  runMs: number;
  table: string;
  /** Empty when there was no violation. */
  violations: string;
}

/**
 * The batches, round robin over the servers: most sent evenly over
 * `submitMs`, and `burstBatches` at once `burstLeadMs` before each fault.
 * At the even rate the grid keeps up, so a process killed between two
 * batches may hold nothing; the bursts make each fault find a backlog and
 * every worker busy.
 */
export function planBatches(c: ThreeServersConfig, faults: FaultPlan): OpPlan[] {
  const prng = Prng.stream(c.seed, 'load');
  const total = Math.ceil(c.tasks / c.batchSize);
  const perBurst = Math.min(c.burstBatches, Math.floor(total / 4));
  const times: number[] = [];
  const even = total - 2 * perBurst;
  for (let i = 0; i < even; i++) times.push(Math.round((i * c.submitMs) / even));
  for (const at of [faults.serverAtMs, faults.workerAtMs]) {
    for (let b = 0; b < perBurst; b++) times.push(Math.max(0, at - c.burstLeadMs));
  }
  // The load sends them in this order, each at its time.
  times.sort((a, b) => a - b);
  return times.map((atMs, index) => ({
    index,
    atMs,
    kind: 'noop' as const,
    items: Array.from({ length: Math.min(c.batchSize, c.tasks - index * c.batchSize) }, () => []),
    server: index % c.modes.length,
    keyed: true,
    cancel: undefined,
    retryDelayMs: prng.int(200, 600),
    burst: false,
  }));
}

export async function runThreeServers(
  c: ThreeServersConfig,
  replay: string,
): Promise<ThreeServersResult> {
  const began = Date.now();
  const log = (line: string) => c.log(`[${((Date.now() - began) / 1000).toFixed(1)} s] ${line}`);
  const prefix = `three${c.seed}:`;
  const token = `three-${randomUUID()}`;
  log(
    `three-server run: seed ${c.seed}, ${c.tasks} tasks over ${(c.submitMs / 1000).toFixed(1)} s, servers ${c.modes.join(', ')}`,
  );
  const cluster = c.cluster ? await TestCluster.start() : undefined;
  const topology = await Topology.start({
    cluster: cluster && { seeds: cluster.seeds, shards: 16 },
    prefix,
    token,
    leaseMs: c.leaseMs,
    heartbeatMs: c.heartbeatMs,
    heartbeatTolerance: c.heartbeatTolerance,
    taskTimeoutMs: c.serverTimeoutMs,
    maxAttempts: c.maxAttempts,
    workersPerServer: c.workersPerServer,
    workerThreads: c.workerThreads,
    modes: c.modes,
  });
  const stoppers: (() => unknown)[] = [];
  try {
    const watched = (task: TrackedTask) => deriveSeed(c.seed, task.nonce) % c.watchEvery === 0;
    const kit = await openRunKit({
      topology,
      prefix,
      token,
      seed: c.seed,
      pollWaitMs: c.pollWaitMs,
      watched,
      stoppers,
    });
    const { servers, history, book, functionIds, finishLog, store, readerCtx } = kit;
    const { pollers, subscribers, rereader, prober, rss } = kit;
    const sampler = new LeaseSampler(store, book, history);
    sampler.start(c.sampleMs);
    stoppers.push(() => sampler.stop());

    // Quick tasks only: nothing waits for room (outstanding() is never consulted).
    const load = new Load(
      {
        book,
        history,
        servers,
        token,
        functionIds,
        runTag: `${c.seed}-${randomUUID().slice(0, 8)}`,
        outstanding: () => 0,
      },
      Number.POSITIVE_INFINITY,
      c.maxTries,
    );
    const keys = await load.probeIdempotency();
    log(`idempotency keys: ${keys}`);

    const faults = planFaults(c);
    const plan = planBatches(c, faults);
    const nemesis = new ThreeServerFaults({
      topology,
      sampler,
      history,
      freezeMs: c.freezeMs,
      log,
    });
    const t0 = Date.now();
    log(`plan: ${plan.length} batches of up to ${c.batchSize}`);
    const loadDone = load.run(plan, t0);
    await nemesis.run(faults, t0);
    await loadDone;
    await topology.heal();
    const submitted = [...book.tasks.values()].filter((t) => t.op >= 0).length;
    log(
      `submits over after ${((Date.now() - t0) / 1000).toFixed(1)} s; ${book.tasks.size} tasks accepted; waiting for every task to be terminal`,
    );

    // Every task terminal: the store's `finished` events, and, when they
    // bring nothing new for 2 s, a read of the store for any whose event
    // this listener missed.
    const quietStart = Date.now();
    let open = [...book.tasks.values()];
    let progressAt = Date.now();
    while (open.length > 0 && Date.now() - quietStart < c.quietCapMs) {
      await sleep(200);
      const before = open.length;
      open = open.filter((t) => !finishLog.counts.has(t.id));
      if (open.length < before) progressAt = Date.now();
      else if (Date.now() - progressAt > 2000) {
        await store.readFinal(open);
        open = open.filter((t) => !TERMINAL.has(t.final?.status ?? ''));
        progressAt = Date.now();
      }
    }
    const runMs = Date.now() - t0;
    log(
      `${open.length === 0 ? 'every task terminal' : `${open.length} tasks not terminal`} ${(runMs / 1000).toFixed(1)} s after the first submit`,
    );
    // Let long-polls and subscribers of the watched tasks deliver what just finished.
    const watchedTasks = [...book.tasks.values()].filter(watched);
    const settleStart = Date.now();
    const settleEnd = settleStart + c.settleMs;
    while (Date.now() < settleEnd) {
      const unheard = watchedTasks.filter(
        (t) => !t.terminal || !t.pollLearned || t.subLearned.size < subscribers.labels.length,
      );
      if (unheard.length === 0) break;
      await sleep(200);
    }

    log(
      `watched tasks heard in ${((Date.now() - settleStart) / 1000).toFixed(1)} s more; final reads`,
    );
    // Final reads: each watched task on every server (the re-reader read them
    // during the run too); every task from the store.
    await mapLimit(watchedTasks, 16, async (task: TrackedTask) => {
      for (const server of servers) await readResult(readerCtx, task, server, 'read', 0);
    });
    const all = [...book.tasks.values()];
    const readAt = Date.now();
    log('read back through the servers');
    await store.readFinal(all);
    log('read back from the store');
    const unacknowledged = await store.unacknowledged(new Set(book.tasks.keys()));
    log('scanned the store');
    const checkedAt = Date.now();
    log(`final reads took ${((checkedAt - settleStart) / 1000).toFixed(1)} s`);
    rereader.stop();
    sampler.stop();
    await pollers.stop();
    subscribers.close();
    for (const task of all) {
      const final = task.final;
      if (!final?.status) continue;
      // Unwatched tasks had no reader: the store's final record is their first terminal read.
      book.observe(task.id, final.status, final.result, readAt, checkedAt, 'store');
      // Never seen leased (a no-op is held for milliseconds): taken when its last claim took it.
      if (task.firstRunningAt === undefined && final.started !== undefined)
        task.firstRunningAt = final.started;
    }

    log('checking');
    const summary = check({
      book,
      history,
      topology,
      leaseMs: c.leaseMs,
      graceMs: c.graceMs,
      stallMs: c.stallMs,
      subscriberLabels: subscribers.labels,
      rogueIds: new Set(),
      unacknowledged,
      finishCounts: finishLog.counts,
      health: prober.samples,
      rogueNotes: [],
      checkedAt,
      watched,
      wakeSlackMs: c.wakeSlackMs,
    });
    if (c.historyPath) history.write(c.historyPath);
    log('checked');

    let completedRight = 0;
    let dupSeen = 0;
    let dupDoubt = 0;
    for (const task of all) {
      const final = task.final;
      if (final?.status === 'COMPLETED' && !mismatch(task.expected, final.status, final.result))
        completedRight++;
      // Runs beyond the first, as the checker counts them; each kill that
      // found the task in its victim's leases explains one.
      const dups = Math.max(0, (final?.attempts ?? 0) - (final?.released ?? 0) - 1);
      const explained = Math.min(dups, nemesis.kills.filter((k) => k.held.has(task.id)).length);
      dupSeen += explained;
      dupDoubt += dups - explained;
    }
    const heldAtKill = {
      server: nemesis.kills.find((k) => k.kind === 'server-kill')?.held.size ?? 0,
      worker: nemesis.kills.find((k) => k.kind === 'worker-kill')?.held.size ?? 0,
    };

    const facts: RunFacts = {
      seed: c.seed,
      minutes: runMs / 60_000,
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
    const byServer = new Map<string, number>();
    for (const t of all) if (t.op >= 0) byServer.set(t.server, (byServer.get(t.server) ?? 0) + 1);
    const table = [
      formatTable(summary, facts),
      `${cluster ? 'store: sharded over a 3-master Redis Cluster, 16 shards; ' : ''}servers: ${topology.servers.map((s) => `${s.label} ${s.mode}`).join(', ')}; ${c.workersPerServer} workers × ${c.workerThreads} threads each; --lease ${c.leaseMs} --heartbeat ${c.heartbeatMs} --heartbeat-tolerance ${c.heartbeatTolerance}`,
      `tasks: ${submitted} of ${c.tasks} acknowledged (batches of ${c.batchSize}, round robin), by server: ${[...byServer].map(([k, v]) => `${k} ${v}`).join(', ')}`,
      `COMPLETED with the right result: ${completedRight} of ${all.length}; first submit → all terminal ${(runMs / 1000).toFixed(1)} s`,
      ...nemesis.kills.map((k) => `fault: ${k.line}`),
      `re-runs: ${dupSeen} of tasks a killed process held when it died, ${dupDoubt} of others`,
      `watched (long-poll + ${subscribers.labels.length} subscribers): ${watchedTasks.length} tasks, 1 in ${c.watchEvery}`,
    ].join('\n');
    const violations =
      summary.violations.length > 0 ? formatViolations(summary, history, replay) : '';
    return {
      summary,
      facts,
      submitted,
      completedRight,
      dupSeen,
      dupDoubt,
      heldAtKill,
      runMs,
      table,
      violations,
    };
  } finally {
    for (const stop of stoppers.reverse()) {
      try {
        await stop();
      } catch {
        // closing anyway
      }
    }
    await topology.close();
    await cluster?.destroy();
  }
}
