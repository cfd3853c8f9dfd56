/**
 * What a dispatcher hands tasks to: the local thread pool, or one remote
 * worker's session. Each keeps its own in-flight ledger, the count of tasks
 * it finished and their recent run time (which sizes its credits), and
 * describes itself for `GET /workers` the same way; the dispatcher does
 * everything else (claiming, leases, deadlines, releases) the same way for
 * all of them.
 */

import { creditsFor, RunTimeAverage } from '../../shared/credits.js';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { ANY_HOLDER, type ClaimFilter } from '../store/lanes.js';
import type { WorkerInfo } from './dispatcher.js';
import { InFlight } from './in-flight.js';

export abstract class TaskHolder {
  abstract readonly id: string;
  abstract readonly address: string;
  readonly threads: number;
  readonly inflight: InFlight;
  /** Tasks it finished whose outcome counted. */
  completed = 0;
  readonly runTime = new RunTimeAverage();
  /** It takes no new tasks (it said so, or the server is closing). */
  draining = false;
  readonly #since = new Date().toISOString();
  /** The lanes it may take from: its labels and tenant (lanes.ts). */
  readonly filter: ClaimFilter;

  constructor(threads: number, deadlineGraceMs: number, filter: ClaimFilter = ANY_HOLDER) {
    this.threads = threads;
    this.inflight = new InFlight(threads, deadlineGraceMs);
    this.filter = filter;
  }

  /** Functions whose source this holder already has; undefined: send every source needed. */
  abstract readonly knownFunctions: ReadonlySet<string> | undefined;
  /** False once it went away: tasks claimed for it go back to the queue. */
  abstract readonly open: boolean;
  /** When it last showed it is alive (ms since the epoch). */
  abstract readonly lastHeartbeat: number;
  /**
   * Starts the tasks (already in the ledger). Returns outcomes for tasks it
   * could not take at all (e.g. too large for its frames); those end there.
   */
  abstract run(tasks: TaskAssignment[], functions: FunctionSource[]): TaskOutcome[];
  /** Stops running these attempts; their outcomes, if any come, are not taken. */
  abstract cancel(tasks: readonly { id: string; attempt: number }[]): void;

  /** Tasks it may hold (see creditsFor). */
  credits(prefetch: number): number {
    return creditsFor(this.threads, prefetch, this.runTime.value);
  }

  /**
   * The outcomes of attempts it still holds, taken off the ledger and
   * counted. The others are dropped: the server ended those attempts already.
   */
  settle(outcomes: readonly TaskOutcome[]): TaskOutcome[] {
    const held = outcomes.filter((o) => this.inflight.settle(o.id, o.attempt));
    this.completed += held.length;
    this.runTime.add(held);
    return held;
  }

  info(): WorkerInfo {
    const info: WorkerInfo = {
      id: this.id,
      address: this.address,
      threads: this.threads,
      in_flight: this.inflight.size,
      completed: this.completed,
      connected_since: this.#since,
      last_heartbeat: new Date(this.lastHeartbeat).toISOString(),
      draining: this.draining,
      labels: [...this.filter.labels],
    };
    if (this.filter.tenant !== undefined) info.tenant = this.filter.tenant;
    return info;
  }
}
