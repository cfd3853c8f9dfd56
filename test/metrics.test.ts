/**
 * The dashboard's stats: one message per interval, each of that interval
 * only; reads change nothing; the queue by priority rides along.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Dispatcher } from '../server/dispatch/dispatcher.js';
import { DashboardStats, GridMetrics } from '../server/metrics.js';
import { MemoryStore } from '../server/store/memory-store.js';

const dispatcher: Dispatcher = {
  mode: 'local',
  inFlight: 0,
  start: async () => {},
  submit: async () => ({ duplicates: new Map() }),
  workers: () => [],
  workersAfter: () => ({ workers: [], total: 0, more: false }),
  close: async () => {},
};

/** A task leased `waitedMs` after its submit, finished now. */
function runOne(metrics: GridMetrics, id: string, waitedMs: number): void {
  const task = { id, fn: 'f', args: '[]', attempt: 1, timeout_ms: 1000 };
  metrics.claimed({ tasks: [task], created: [Date.now() - waitedMs], drained: true });
  metrics.finished([{ id, attempt: 1, status: 'COMPLETED', value: '1', run_ms: 1 }]);
}

describe('GridMetrics and DashboardStats', () => {
  it('reading the recent latency changes nothing', () => {
    const metrics = new GridMetrics(new MemoryStore(), () => dispatcher);
    runOne(metrics, 'a', 40);
    const first = metrics.recentLatency();
    expect(first.p50).to.be.at.least(40);
    expect(metrics.recentLatency()).to.deep.equal(first);
    metrics.startLatencyWindow();
    expect(metrics.recentLatency()).to.deep.equal({ p50: 0, p95: 0 });
  });

  it('answers one message per interval, each covering only its own interval', async () => {
    const metrics = new GridMetrics(new MemoryStore(), () => dispatcher);
    let now = 1_000_000;
    const stats = new DashboardStats(metrics, new MemoryStore(), dispatcher, () => now);
    runOne(metrics, 'a', 40);
    runOne(metrics, 'b', 40);

    now += 1000;
    const first = await stats.current();
    expect(first).to.include({ type: 'stats', mode: 'local', queue_depth: 0, completed_per_s: 2 });
    expect(first.latency_p50_ms).to.be.at.least(40);

    now += 500;
    expect(await stats.current(), 'within the interval: the same message').to.equal(first);

    now += 500;
    const second = await stats.current();
    expect(second).to.include({ completed_per_s: 0, latency_p50_ms: 0, latency_p95_ms: 0 });
    expect(second.at).to.equal(now);
  });

  it('carries the queue by priority, and the depth as its sum', async () => {
    const store = new MemoryStore();
    const task = (priority: number) => ({
      id: randomUUID(),
      function_id: 'f',
      args: '[]',
      timeout_ms: 1000,
      created_at: Date.now(),
      priority,
    });
    await store.enqueue([task(4), task(0), task(4), task(-1)]);
    const stats = new DashboardStats(new GridMetrics(store, () => dispatcher), store, dispatcher);
    expect(await stats.current()).to.deep.include({
      queue_depth: 4,
      queue_by_priority: [
        { priority: 4, queued: 2 },
        { priority: 0, queued: 1 },
        { priority: -1, queued: 1 },
      ],
    });
  });
});
