/**
 * Keeps this server's leases alive while it holds the tasks, and returns
 * tasks whose lease ran out (a server that died, a renewal that never came)
 * to the queue, attempt counted.
 */

import type { DispatchContext } from './dispatch-context.js';

export class LeaseKeeper {
  readonly #ctx: DispatchContext;
  readonly #held: () => Iterable<string>;
  #timer: NodeJS.Timeout | undefined;

  constructor(ctx: DispatchContext, held: () => Iterable<string>) {
    this.#ctx = ctx;
    this.#held = held;
  }

  start(): void {
    const every = Math.max(50, Math.floor(this.#ctx.config.leaseMs / 3));
    this.#timer = setInterval(() => void this.#tick(), every);
    this.#timer.unref();
    void this.#tick();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    const { store, config, log } = this.#ctx;
    try {
      await store.renewLeases([...this.#held()], config.leaseMs);
      const expired = await store.expiredLeases(Date.now(), 1000);
      if (expired.length > 0) {
        const { requeued, failed } = await store.requeue(expired, config.maxAttempts);
        log.warn({ requeued: requeued.length, failed: failed.length }, 'recovered expired leases');
      }
    } catch (error) {
      log.debug({ err: error }, 'lease upkeep failed; will retry');
    }
  }
}
