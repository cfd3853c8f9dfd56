/**
 * The narrow interface every mode implements: local (threads in this
 * process), push and pull (remote workers over WebSocket). Each lives in its
 * own file and is chosen by `--mode`.
 */

import type { Mode } from '../../shared/types.js';
import type { WorkerInfo } from '../../shared/worker-info.js';
import type { EnqueueResult, NewTask } from '../store/task-store.js';

export type { WorkerInfo };

export interface WorkersSlice {
  workers: WorkerInfo[];
  /** Workers connected now, in the slice or not. */
  total: number;
  /** More follow the slice's last id. */
  more: boolean;
}

export interface Dispatcher {
  readonly mode: Mode;
  start(): Promise<void>;
  /**
   * Stores new tasks (resolved means stored), leasing some at once when there
   * is room. Tasks whose idempotency key is known are not stored again.
   */
  submit(tasks: readonly NewTask[]): Promise<EnqueueResult>;
  /** Tasks leased by this server and not yet finished. */
  readonly inFlight: number;
  /** Connected workers and their load. */
  workers(): WorkerInfo[];
  /** Part of `workers()`: ids after `after` in id order, at most `limit`, and the count of all. */
  workersAfter(after: string | undefined, limit: number): WorkersSlice;
  /** Stops taking tasks, hands unfinished ones back to the queue, and stops. Idempotent. */
  close(): Promise<void>;
}
