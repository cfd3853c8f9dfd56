/**
 * The lease keeper's judgement: it looks for other servers' stale leases only
 * once it has kept its own liveness key alive for a full liveness period (after
 * start, and again after the store failed), lets go of tasks the store says it
 * no longer holds, and enforces deadlines on every tick.
 */

import { expect } from 'chai';
import type { DispatchContext } from '../server/dispatch/dispatch-context.js';
import { type LeaseHolder, LeaseKeeper } from '../server/dispatch/lease-keeper.js';
import { defaultConfig } from '../server/server-config.js';
import { MemoryStore } from '../server/store/memory-store.js';
import type { LeaseReturn } from '../server/store/task-store.js';
import { createLogger } from '../shared/logger.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the list has an entry (a busy machine delays ticks: allow seconds). */
async function firstOf(list: readonly number[]): Promise<number> {
  for (let waited = 0; list.length === 0 && waited < 10_000; waited += 50) await sleep(50);
  expect(list.length, 'a scan happened').to.be.greaterThan(0);
  return list[0] as number;
}
/** A 300 ms lease makes 100 ms ticks: liveness is 300 ms, a clear view 400 ms. */
const LEASE_MS = 300;

function context(store: MemoryStore): DispatchContext {
  const config = { ...defaultConfig(), leaseMs: LEASE_MS };
  const metrics = { requeued: () => {} };
  return {
    store,
    instanceId: 'me',
    config,
    log: createLogger('lease-keeper-test', 'silent'),
    metrics,
  } as unknown as DispatchContext;
}

class FakeHolder implements LeaseHolder {
  held: LeaseReturn[] = [];
  letGoCalls: string[][] = [];
  expireCalls = 0;
  heldLeases(): LeaseReturn[] {
    return this.held;
  }
  letGo(ids: readonly string[]): void {
    if (ids.length > 0) this.letGoCalls.push([...ids]);
  }
  expireOverdue(): void {
    this.expireCalls++;
  }
  async retryReleases(): Promise<void> {}
}

describe('LeaseKeeper', () => {
  let keeper: LeaseKeeper | undefined;
  afterEach(() => keeper?.stop());

  it('looks for stale leases only after a full liveness period of its own', async () => {
    const store = new MemoryStore();
    const scans: number[] = [];
    const real = store.staleLeases.bind(store);
    store.staleLeases = (now, limit) => {
      scans.push(Date.now());
      return real(now, limit);
    };
    const started = Date.now();
    keeper = new LeaseKeeper(context(store), new FakeHolder());
    keeper.start();
    await sleep(250);
    expect(scans, 'scans before a clear view').to.deep.equal([]);
    expect((await firstOf(scans)) - started).to.be.at.least(400);
  });

  it('after the store failed, waits a full liveness period again before judging others', async () => {
    const store = new MemoryStore();
    let down = false;
    const heartbeat = store.heartbeat.bind(store);
    store.heartbeat = async () => {
      if (down) throw new Error('store down');
      return heartbeat();
    };
    const scans: number[] = [];
    const real = store.staleLeases.bind(store);
    store.staleLeases = (now, limit) => {
      scans.push(Date.now());
      return real(now, limit);
    };
    keeper = new LeaseKeeper(context(store), new FakeHolder());
    keeper.start();
    await firstOf(scans);
    down = true;
    await sleep(300);
    down = false;
    const back = Date.now();
    scans.length = 0;
    await sleep(250);
    expect(scans, 'scans right after the store came back').to.deep.equal([]);
    expect((await firstOf(scans)) - back).to.be.at.least(300);
  });

  it('lets go of what the store says it no longer holds, and enforces deadlines each tick', async () => {
    const store = new MemoryStore();
    await store.enqueue([
      { id: 'mine', function_id: 'f', args: '[]', timeout_ms: 1000, created_at: Date.now() },
    ]);
    await store.claim(1, 'me/w', 60_000);
    const holder = new FakeHolder();
    // It holds attempt 1 of `mine` and an attempt of `gone` the store never leased to it.
    holder.held = [
      { id: 'mine', attempt: 1 },
      { id: 'gone', attempt: 3 },
    ];
    keeper = new LeaseKeeper(context(store), holder);
    keeper.start();
    for (let waited = 0; holder.expireCalls < 2 && waited < 10_000; waited += 50) await sleep(50);
    expect(holder.letGoCalls[0]).to.deep.equal(['gone']);
    expect(holder.expireCalls).to.be.at.least(2);
  });
});
