/**
 * pull mode: a worker asks for up to N tasks when it has free threads. The
 * server answers at once from the queue, or parks the request until a task
 * arrives (the claim loop wakes on every enqueue). Oldest request first.
 */

import { maxCredits } from '../../shared/credits.js';
import type { Demand, KnownEmpty } from './claim-loop.js';
import { RemoteDispatcher } from './remote-dispatcher.js';
import type { WorkerSession } from './worker-session.js';

export class PullDispatcher extends RemoteDispatcher {
  readonly mode = 'pull';
  /**
   * Sessions with an unanswered request, oldest request first (a Set keeps
   * insertion order). Those answered, closed, replaced or draining leave it
   * lazily in nextDemand. Walking every session per claim instead made
   * 10,000 workers connecting (each pull a wake, each wake a claim) quadratic.
   */
  readonly #waiting = new Set<WorkerSession>();

  protected onPull(session: WorkerSession, max: number): void {
    if (session.draining) return;
    if (session.requested === 0) {
      session.requestedSince = Date.now();
      // A new request joins the back of the line, even if an answered one is still listed.
      this.#waiting.delete(session);
    }
    // The worker sizes its own requests (it sees its run times); the server only
    // bounds them, so a request it answers in part is never silently forgotten.
    const cap = maxCredits(session.threads) - session.inflight.size;
    session.requested = Math.max(0, Math.min(session.requested + max, cap));
    if (session.requested > 0) this.#waiting.add(session);
  }

  protected nextDemand(known: KnownEmpty): Demand | undefined {
    let oldest: WorkerSession | undefined;
    for (const session of this.#waiting) {
      const current = this.sessions.get(session.id) === session;
      if (session.requested > 0 && session.open && !session.draining && current) {
        // Nothing for its lanes now: it keeps its place until a queue event.
        if (known(session.filter.key)) continue;
        oldest = session;
        break;
      }
      // None of these takes tasks again without a new pull, which lists it anew.
      this.#waiting.delete(session);
    }
    if (!oldest) return undefined;
    const session = oldest;
    return {
      max: session.requested,
      owner: `${this.ctx.instanceId}/${session.id}`,
      filter: session.filter,
      deliver: (tasks) => {
        session.requested = Math.max(0, session.requested - tasks.length);
        // A partly answered request keeps its place in line.
        return this.handOff(session, tasks);
      },
    };
  }
}
