/**
 * The narrow interface every mode implements: local (threads in this
 * process), push and pull (remote workers over WebSocket). Each lives in its
 * own file and is chosen by `--mode`.
 */

import type { Mode } from '../../shared/types.js';
import type { WorkerInfo } from '../../shared/worker-info.js';
import type { EnqueueResult, NewTask } from '../store/task-store.js';

export type { WorkerInfo };

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
  /** Stops taking tasks, hands unfinished ones back to the queue, and stops. Idempotent. */
  close(): Promise<void>;
}
