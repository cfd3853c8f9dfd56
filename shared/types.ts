/** Task and function shapes shared by the server, local threads and remote workers. */

/**
 * QUEUED: runnable, waiting for a worker. WAITING: not runnable yet (delayed,
 * backing off before a retry, or waiting for dependencies).
 */
export const TASK_STATUSES = [
  'QUEUED',
  'WAITING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type TerminalStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED';

export function isTerminal(status: TaskStatus): status is TerminalStatus {
  return status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED';
}

export const MODES = ['local', 'push', 'pull'] as const;
export type Mode = (typeof MODES)[number];

/**
 * One execution handed to a thread. Local threads and remote sockets carry the
 * same shape. `args` stays JSON text end to end: nobody between the REST
 * boundary and the thread needs to parse it.
 */
export interface TaskAssignment {
  id: string;
  fn: string;
  args: string;
  attempt: number;
  timeout_ms: number;
  /**
   * Not started by then (ms since epoch, this process's clock): it must not
   * start, and fails with DeadlineExceededError where it is held.
   */
  deadline_at?: number;
  /** Its priority when not 0 (the server's: what it may hand back when a higher one comes). */
  priority?: number;
}

/** A function's source, sent once per thread or socket and then referred to by id. */
export interface FunctionSource {
  id: string;
  source: string;
}

/**
 * What running a task produced. `value` is JSON text: the return value when
 * `status` is COMPLETED, `ErrorData` otherwise. `attempt` fences late
 * duplicates: the store applies an outcome only to the attempt it names.
 */
export interface TaskOutcome {
  id: string;
  attempt: number;
  status: TerminalStatus;
  value: string;
  run_ms: number;
  /** Set by the server for an outcome no retry policy may retry (a deadline that passed). */
  final?: boolean;
}
