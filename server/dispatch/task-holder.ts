/**
 * What a dispatcher hands tasks to: the local thread pool, or one remote
 * worker's session. Each keeps its own in-flight ledger; the dispatcher
 * does everything else (claiming, leases, deadlines, releases) the same way
 * for all of them.
 */

import type { FunctionSource, TaskAssignment, TaskOutcome } from '../../shared/types.js';
import type { InFlight } from './in-flight.js';

export interface TaskHolder {
  readonly inflight: InFlight;
  /** Functions whose source this holder already has; undefined: send every source needed. */
  readonly knownFunctions: ReadonlySet<string> | undefined;
  /** False once it went away: tasks claimed for it go back to the queue. */
  readonly open: boolean;
  /**
   * Starts the tasks (already in the ledger). Returns outcomes for tasks it
   * could not take at all (e.g. too large for its frames); those end there.
   */
  run(tasks: TaskAssignment[], functions: FunctionSource[]): TaskOutcome[];
  /** Stops running these attempts; their outcomes, if any come, are not taken. */
  cancel(tasks: readonly { id: string; attempt: number }[]): void;
}
