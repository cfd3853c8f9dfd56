/**
 * pull mode: a worker asks for up to N tasks when it has free threads. The
 * server answers at once from the queue, or parks the request until a task
 * arrives (the claim loop wakes on every enqueue). Oldest request first.
 */

import { maxCredits } from '../../shared/credits.js';
import type { Demand } from './claim-loop.js';
import { RemoteDispatcher } from './remote-dispatcher.js';
import type { WorkerSession } from './worker-session.js';

export class PullDispatcher extends RemoteDispatcher {
  readonly mode = 'pull';

  protected onPull(session: WorkerSession, max: number): void {
    if (session.draining) return;
    if (session.requested === 0) session.requestedSince = Date.now();
    // The worker sizes its own requests (it sees its run times); the server only
    // bounds them, so a request it answers in part is never silently forgotten.
    const cap = maxCredits(session.threads) - session.inflight.size;
    session.requested = Math.max(0, Math.min(session.requested + max, cap));
  }

  protected nextDemand(): Demand | undefined {
    let oldest: WorkerSession | undefined;
    for (const session of this.sessions.values()) {
      if (session.requested <= 0 || !session.open || session.draining) continue;
      if (!oldest || session.requestedSince < oldest.requestedSince) oldest = session;
    }
    if (!oldest) return undefined;
    const session = oldest;
    return {
      max: session.requested,
      owner: `${this.ctx.instanceId}/${session.id}`,
      deliver: (tasks) => {
        session.requested = Math.max(0, session.requested - tasks.length);
        // A partly answered request keeps its place in line.
        return this.handOff(session, tasks);
      },
    };
  }
}
