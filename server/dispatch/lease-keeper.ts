/**
 * Keeps this server alive in the store (a liveness key with a short TTL),
 * renews the leases of the tasks it holds, and returns stale tasks to the
 * queue, attempt counted: tasks whose lease ran out, and tasks held by a
 * server instance that died (its liveness key expired), so a restarted
 * server or any peer on the same Redis recovers them within seconds.
 */

import type { DispatchContext } from './dispatch-context.js';

/** Upkeep at least this often, whatever the lease length. */
const MAX_TICK_MS = 1000;

export class LeaseKeeper {
  readonly #ctx: DispatchContext;
  readonly #held: () => Iterable<string>;
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(ctx: DispatchContext, held: () => Iterable<string>) {
    this.#ctx = ctx;
    this.#held = held;
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
    const { store, config, log, instanceId } = this.#ctx;
    try {
      // Three missed ticks and peers treat this instance as dead.
      await store.heartbeat(instanceId, this.#tickMs * 3);
      await store.renewLeases([...this.#held()], config.leaseMs);
      const stale = await store.staleLeases(Date.now(), 1000);
      if (stale.length > 0) {
        const result = await store.requeue(stale, config.maxAttempts);
        this.#ctx.metrics.requeued(result);
        const { requeued, failed } = result;
        log.warn({ requeued: requeued.length, failed: failed.length }, 'recovered stale leases');
      }
    } catch (error) {
      log.debug({ err: error }, 'lease upkeep failed; will retry');
    }
  }
}
