/**
 * push mode: the server sends tasks down each worker's socket while it has
 * credit (see creditsFor: at least threads × prefetch, more for cheap tasks), least-loaded worker first.
 */

import type { Demand, KnownEmpty } from './claim-loop.js';
import { RemoteDispatcher } from './remote-dispatcher.js';
import type { WorkerSession } from './worker-session.js';

export class PushDispatcher extends RemoteDispatcher {
  readonly mode = 'push';

  protected nextDemand(known: KnownEmpty): Demand | undefined {
    let best: WorkerSession | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    const creditsOf = (s: WorkerSession) => s.credits(this.ctx.config.prefetch);
    for (const session of this.sessions.values()) {
      if (session.draining || !session.open || known(session.filter.key)) continue;
      const credits = creditsOf(session);
      if (session.inflight.size >= credits) continue;
      const load = session.inflight.size / session.threads;
      if (load < bestLoad) {
        best = session;
        bestLoad = load;
        // No one is less loaded than idle: with 10,000 workers mostly idle, stop looking.
        if (load === 0) break;
      }
    }
    if (!best) return undefined;
    const session = best;
    return {
      max: creditsOf(session) - session.inflight.size,
      owner: `${this.ctx.instanceId}/${session.id}`,
      filter: session.filter,
      deliver: (tasks) => this.handOff(session, tasks),
    };
  }

  protected onPull(): void {
    // Push workers do not ask; a pull frame here is harmless and ignored.
  }
}
