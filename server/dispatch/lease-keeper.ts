/**
 * Keeps this server alive in the store (a liveness key with a short TTL),
 * renews the leases of the tasks it still holds (letting go of any a peer
 * took over), enforces the server's deadlines, and returns stale tasks to
 * the queue, attempt counted: tasks whose lease ran out, and tasks held by a
 * server instance that died (its liveness key expired), so a restarted
 * server or any peer on the same Redis recovers them within seconds.
 *
 * Judging others needs a clear view: after this server could not reach the
 * store (or was frozen), every peer's liveness key may have lapsed too, only
 * because nobody could renew it. So stale leases are looked for only once
 * this server has kept its own key alive for a full liveness period.
 */

import type { LeaseReturn } from '../store/task-store.js';
import type { DispatchContext } from './dispatch-context.js';

/** Upkeep at least this often, whatever the lease length. */
const MAX_TICK_MS = 1000;
/** Three missed ticks and peers treat this instance as dead. */
const LIVENESS_TICKS = 3;
/** Stale leases handled per tick. */
const STALE_BATCH = 1000;

/** What the lease keeper needs from its dispatcher. */
export interface LeaseHolder {
  heldLeases(): LeaseReturn[];
  letGo(ids: readonly string[]): void;
  expireOverdue(now: number): void;
  retryReleases(): Promise<void>;
}

export class LeaseKeeper {
  readonly #ctx: DispatchContext;
  readonly #holder: LeaseHolder;
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  /** Since when every tick reached the store in time (undefined: the last one did not). */
  #healthySince: number | undefined;
  #lastTick = 0;

  constructor(ctx: DispatchContext, holder: LeaseHolder) {
    this.#ctx = ctx;
    this.#holder = holder;
    this.#tickMs = Math.max(50, Math.min(MAX_TICK_MS, Math.floor(ctx.config.leaseMs / 3)));
  }

  start(): void {
    this.#timer = setInterval(() => void this.#tick(), this.#tickMs);
    this.#timer.unref();
    void this.#tick();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    const { store, config, log, instanceId } = this.#ctx;
    const now = Date.now();
    // A tick that comes late (the process was frozen, the event loop blocked)
    // means our liveness key may have lapsed meanwhile: start the window again.
    if (now - this.#lastTick > this.#tickMs * LIVENESS_TICKS) this.#healthySince = undefined;
    this.#lastTick = now;
    try {
      this.#holder.expireOverdue(now);
      await store.heartbeat(instanceId, this.#tickMs * LIVENESS_TICKS);
      this.#healthySince ??= now;
      const gone = await store.renewLeases(this.#holder.heldLeases(), config.leaseMs);
      this.#holder.letGo(gone);
      await this.#holder.retryReleases();
      if (now - this.#healthySince >= this.#tickMs * (LIVENESS_TICKS + 1)) {
        const stale = await store.staleLeases(Date.now(), STALE_BATCH);
        if (stale.length > 0) {
          const result = await store.requeue(stale, config.maxAttempts);
          this.#ctx.metrics.requeued(result);
          const { requeued, failed } = result;
          log.warn({ requeued: requeued.length, failed: failed.length }, 'recovered stale leases');
        }
      }
    } catch (error) {
      this.#healthySince = undefined;
      log.debug({ err: error }, 'lease upkeep failed; will retry');
    } finally {
      this.#ticking = false;
    }
  }
}
