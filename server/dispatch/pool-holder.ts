/** local mode's one task holder: the server's own thread pool. */

import type { FunctionSource, TaskAssignment, TaskOutcome } from '../../shared/types.js';
import type { ThreadPool } from '../../threads/thread-pool.js';
import type { ClaimFilter } from '../store/lanes.js';
import { TaskHolder } from './task-holder.js';

export class PoolHolder extends TaskHolder {
  readonly id = 'local';
  readonly address = 'in-process';
  /** The pool is handed every source with each batch and keeps what it has. */
  readonly knownFunctions = undefined;
  readonly open = true;
  readonly #pool: ThreadPool;

  constructor(pool: ThreadPool, deadlineGraceMs: number, filter: ClaimFilter) {
    super(pool.threads, deadlineGraceMs, filter);
    this.#pool = pool;
  }

  /** It runs in this process: alive whenever asked. */
  get lastHeartbeat(): number {
    return Date.now();
  }

  run(tasks: TaskAssignment[], functions: FunctionSource[]): TaskOutcome[] {
    this.#pool.addFunctions(functions);
    this.#pool.run(tasks);
    return [];
  }

  cancel(tasks: readonly { id: string; attempt: number }[]): void {
    for (const task of tasks) this.#pool.cancel(task.id, task.attempt);
  }
}
