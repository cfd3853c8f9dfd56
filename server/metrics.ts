/**
 * Prometheus metrics (prom-client), one registry per server so several
 * servers in one process (tests) do not share counters. Latency histograms
 * need each task's submit and lease times: they are kept here, keyed by id,
 * only while the task is in flight on this server. The dashboard's stats
 * message (DashboardStats) is read from the same numbers.
 */

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StatsMessage, TenantLoad } from '../shared/protocol.js';
import type { Mode, TaskOutcome } from '../shared/types.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import type { OutcomeCounters } from './dispatch/outcome-writer.js';
import type { ClaimResult, RequeueResult, TaskStore } from './store/task-store.js';
import { tenantName } from './tenants.js';

const BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Latency samples kept for the dashboard's percentiles (of the current window). */
const RECENT = 2048;
/** At most one stats message this often, however many dashboards watch (they ask every second). */
const STATS_INTERVAL_MS = 900;

/** Leased tasks tracked for latency at most (oldest forgotten first). */
const MAX_TRACKED = 500_000;
/** The tenant label of a task whose tenant this server cannot tell (its function is not held). */
const UNKNOWN_TENANT = 'unknown';
/** The tenant label of a tenant the tokens file no longer names: labels stay bounded by the file. */
const OTHER_TENANT = 'other';

/** With a tokens file, task counters are labelled by tenant (server/tenants.ts). */
export interface TenantLabels {
  /** Every tenant the tokens file names, `default` included. */
  readonly names: readonly string[];
  /** A function's tenant name when this server holds the function, else undefined. */
  tenantOfFunction(functionId: string): string | undefined;
}

export class GridMetrics implements OutcomeCounters {
  readonly registry = new Registry();
  readonly #submitted: Counter<'tenant'>;
  readonly #outcomesDropped: Counter;
  readonly #outcomesRejected: Counter;
  readonly #finished: Counter<'status' | 'tenant'>;
  readonly #tenants: TenantLabels | undefined;
  readonly #tenantNames: ReadonlySet<string>;
  /** The same counts by tenant, for the dashboard (labels of the counters above). */
  readonly #byTenant = new Map<string, TenantLoad>();
  readonly #retried: Counter;
  readonly #queueWait: Histogram;
  readonly #runTime: Histogram;
  readonly #endToEnd: Histogram;
  readonly #leased = new Map<string, { created: number; leased: number; fn: string }>();
  readonly #recent = new Float64Array(RECENT);
  #recentCount = 0;
  #completedTotal = 0;

  /** `tenants`: label task counters by tenant (a tokens file is in use); unlabelled without. */
  constructor(store: TaskStore, dispatcher: () => Dispatcher, tenants?: TenantLabels) {
    const registers = [this.registry];
    this.#tenants = tenants;
    this.#tenantNames = new Set(tenants?.names);
    const tenantLabel = tenants ? (['tenant'] as const) : [];
    this.#submitted = new Counter({
      name: 'taskgrid_tasks_submitted_total',
      help: tenants ? 'Tasks accepted by this server, by tenant' : 'Tasks accepted by this server',
      labelNames: tenantLabel,
      registers,
    });
    this.#finished = new Counter({
      name: 'taskgrid_tasks_finished_total',
      help: `Tasks that reached a terminal status through this server, by status${tenants ? ' and tenant' : ''}`,
      labelNames: ['status', ...tenantLabel],
      registers,
    });
    for (const status of ['COMPLETED', 'FAILED', 'CANCELLED']) {
      if (!tenants) this.#finished.inc({ status }, 0);
      for (const tenant of tenants?.names ?? []) this.#finished.inc({ status, tenant }, 0);
    }
    for (const tenant of tenants?.names ?? []) this.#submitted.inc({ tenant }, 0);
    for (const tenant of tenants?.names ?? []) this.#tenantLoad(tenant);
    this.#retried = new Counter({
      name: 'taskgrid_tasks_retried_total',
      help: 'Tasks put back in the queue after their worker was lost or their lease ended',
      registers,
    });
    new Gauge({
      name: 'taskgrid_queue_depth',
      help: 'Tasks waiting in the queue',
      registers,
      async collect() {
        this.set(await store.queueDepth().catch(() => Number.NaN));
      },
    });
    new Gauge({
      name: 'taskgrid_workers_connected',
      help: 'Workers connected to this server (local mode: the in-process pool)',
      registers,
      collect() {
        this.set(dispatcher().workers().length);
      },
    });
    new Gauge({
      name: 'taskgrid_worker_in_flight',
      help: 'Tasks held by each worker',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of dispatcher().workers()) this.set({ worker: w.id }, w.in_flight);
      },
    });
    this.#outcomesDropped = new Counter({
      name: 'taskgrid_outcomes_dropped_total',
      help: 'Results dropped because the buffer of results waiting for the store was full (their tasks run again)',
      registers,
    });
    this.#outcomesRejected = new Counter({
      name: 'taskgrid_outcomes_rejected_total',
      help: 'Results the store would not take, even replaced by a failure',
      registers,
    });
    const histogram = (name: string, help: string) =>
      new Histogram({ name, help, buckets: BUCKETS, registers });
    this.#queueWait = histogram('taskgrid_task_queue_wait_seconds', 'Submit → lease');
    this.#runTime = histogram('taskgrid_task_run_seconds', 'Run time measured in the thread');
    this.#endToEnd = histogram('taskgrid_task_end_to_end_seconds', 'Submit → result stored');
  }

  get completedTotal(): number {
    return this.#completedTotal;
  }

  /** `tenant`: the submitting client's (undefined: `default`). */
  submitted(count: number, tenant?: string): void {
    if (!this.#tenants) {
      this.#submitted.inc(count);
      return;
    }
    const label = this.#label(tenantName(tenant));
    this.#submitted.inc({ tenant: label }, count);
    this.#tenantLoad(label).submitted += count;
  }

  /** Each tenant's counts, for the dashboard; undefined without a tokens file. */
  tenantLoads(): TenantLoad[] | undefined {
    return this.#tenants && [...this.#byTenant.values()].map((load) => ({ ...load }));
  }

  claimed(claim: ClaimResult): void {
    const now = Date.now();
    for (let i = 0; i < claim.tasks.length; i++) {
      const created = claim.created[i] ?? now;
      const task = claim.tasks[i] as { id: string; fn: string };
      this.#leased.set(task.id, { created, leased: now, fn: task.fn });
      // Tasks that end elsewhere (taken over by a peer) never come back here: stay bounded.
      if (this.#leased.size > MAX_TRACKED) {
        const oldest = this.#leased.keys().next().value;
        if (oldest !== undefined) this.#leased.delete(oldest);
      }
      this.#queueWait.observe((now - created) / 1000);
    }
  }

  /** Outcomes this server stored. */
  finished(outcomes: readonly TaskOutcome[]): void {
    const now = Date.now();
    for (const outcome of outcomes) {
      const times = this.#leased.get(outcome.id);
      this.#finished.inc(this.#finishedLabels(outcome.status, times?.fn));
      this.#runTime.observe(outcome.run_ms / 1000);
      if (!times) continue;
      this.#leased.delete(outcome.id);
      const e2e = now - times.created;
      this.#endToEnd.observe(e2e / 1000);
      this.#recent[this.#recentCount++ % RECENT] = e2e;
    }
    this.#completedTotal += outcomes.length;
  }

  outcomesDropped(count: number): void {
    this.#outcomesDropped.inc(count);
  }

  outcomeRejected(): void {
    this.#outcomesRejected.inc();
  }

  /** `tenant`: whose tasks they were (undefined: `default`). */
  cancelled(count = 1, tenant?: string): void {
    if (count <= 0) return;
    if (this.#tenants) {
      const labels = { status: 'CANCELLED', tenant: this.#label(tenantName(tenant)) };
      this.#finished.inc(labels, count);
      this.#tenantLoad(labels.tenant).cancelled += count;
    } else {
      this.#finished.inc({ status: 'CANCELLED' }, count);
    }
  }

  /** A task this server leased ended elsewhere (cancelled): stop tracking it. */
  forget(id: string): void {
    this.#leased.delete(id);
  }

  requeued(result: RequeueResult): void {
    this.#retried.inc(result.requeued.length);
    for (const id of result.failed) {
      this.#finished.inc(this.#finishedLabels('FAILED', this.#leased.get(id)?.fn));
    }
    for (const id of [...result.requeued, ...result.failed]) this.#leased.delete(id);
  }

  /** The finished counter's labels: with tenants, the tenant of the task's function. */
  #finishedLabels(
    status: string,
    fn: string | undefined,
  ): Partial<Record<'status' | 'tenant', string>> {
    if (!this.#tenants) return { status };
    const name = fn === undefined ? undefined : this.#tenants.tenantOfFunction(fn);
    const tenant = name === undefined ? UNKNOWN_TENANT : this.#label(name);
    const load = this.#tenantLoad(tenant);
    if (status === 'COMPLETED') load.completed++;
    else if (status === 'FAILED') load.failed++;
    else load.cancelled++;
    return { status, tenant };
  }

  /** A tenant label's counts, made at first use (labels are bounded: see #label). */
  #tenantLoad(tenant: string): TenantLoad {
    let load = this.#byTenant.get(tenant);
    if (!load) {
      load = { tenant, submitted: 0, completed: 0, failed: 0, cancelled: 0 };
      this.#byTenant.set(tenant, load);
    }
    return load;
  }

  /** A tenant name as a label value: one the tokens file names, else `other`. */
  #label(name: string): string {
    return this.#tenantNames.has(name) ? name : OTHER_TENANT;
  }

  /** p50 and p95 of the end-to-end latencies (ms) in the current window; a read, nothing more. */
  recentLatency(): { p50: number; p95: number } {
    const n = Math.min(this.#recentCount, RECENT);
    if (n === 0) return { p50: 0, p95: 0 };
    const sorted = Array.from(this.#recent.subarray(0, n)).sort((a, b) => a - b);
    return {
      p50: sorted[Math.floor(n * 0.5)] ?? 0,
      p95: sorted[Math.min(n - 1, Math.floor(n * 0.95))] ?? 0,
    };
  }

  /** Starts a new latency window: the dashboard shows each interval's latencies, not all time's. */
  startLatencyWindow(): void {
    this.#recentCount = 0;
  }
}

/**
 * The dashboard's stats message. Each new message covers the interval since
 * the one before: its rate is of the tasks finished in it, its percentiles
 * of their latencies (making a message starts the next interval, in
 * `#nextInterval`). Within STATS_INTERVAL_MS the last message is answered
 * again, so any number of dashboards share one interval.
 */
export class DashboardStats {
  readonly #metrics: GridMetrics;
  readonly #store: TaskStore;
  readonly #dispatcher: Dispatcher;
  readonly #mode: Mode;
  readonly #clock: () => number;
  #last: { at: number; completed: number; message: StatsMessage | undefined };

  /** `clock`: ms since the epoch (tests pass their own). */
  constructor(metrics: GridMetrics, store: TaskStore, dispatcher: Dispatcher, clock = Date.now) {
    this.#metrics = metrics;
    this.#store = store;
    this.#dispatcher = dispatcher;
    this.#mode = dispatcher.mode;
    this.#clock = clock;
    this.#last = { at: clock(), completed: 0, message: undefined };
  }

  async current(): Promise<StatsMessage> {
    const now = this.#clock();
    const last = this.#last;
    if (last.message && now - last.at < STATS_INTERVAL_MS) return last.message;
    const { completed, latency } = this.#nextInterval();
    // One read gives both: the depth is the sum of the per-priority counts.
    const byPriority = await this.#store.queuedByPriority();
    const message: StatsMessage = {
      type: 'stats',
      at: now,
      mode: this.#mode,
      queue_depth: byPriority.reduce((sum, p) => sum + p.queued, 0),
      completed_per_s: ((completed - last.completed) * 1000) / Math.max(1, now - last.at),
      latency_p50_ms: latency.p50,
      latency_p95_ms: latency.p95,
      workers: this.#dispatcher.workers().map((w) => ({
        id: w.id,
        address: w.address,
        threads: w.threads,
        in_flight: w.in_flight,
        completed: w.completed,
        labels: w.labels,
        draining: w.draining,
        ...(w.tenant === undefined ? {} : { tenant: w.tenant }),
      })),
      queue_by_priority: byPriority,
    };
    const tenants = this.#metrics.tenantLoads();
    if (tenants) message.tenants = tenants;
    this.#last = { at: now, completed, message };
    return message;
  }

  /** Closes the interval ending now (its completions and latencies) and starts the next. */
  #nextInterval(): { completed: number; latency: { p50: number; p95: number } } {
    const completed = this.#metrics.completedTotal;
    const latency = this.#metrics.recentLatency();
    this.#metrics.startLatencyWindow();
    return { completed, latency };
  }
}
