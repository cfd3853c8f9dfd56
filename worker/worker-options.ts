/**
 * What `new TaskgridWorker(options)` takes, the worker-only defaults, and the
 * one check its constructor runs: every option's type and range, with a
 * ConfigError (OptionError) that names the option.
 */

import type { Logger } from 'pino';
import type { BackoffPolicy } from '../shared/backoff.js';
import {
  DEFAULT_FRAME_BYTES,
  DEFAULT_PREFETCH,
  DEFAULT_RESULT_BYTES,
  DEFAULT_THREAD_MEMORY_MB,
  defaultThreads,
  PREFETCH_RANGE,
  THREADS_RANGE,
} from '../shared/defaults.js';
import {
  boolOption,
  intOption,
  labelsOption,
  OptionError,
  objectOption,
  optionalTextOption,
  orDefault,
  urlOption,
} from '../shared/options.js';
import { checkTokenTransport, pemOption } from '../shared/transport-security.js';

export interface WorkerOptions {
  url: string;
  threads?: number;
  token?: string;
  /** PEM text of a private CA to trust for a wss:// server, beside the system's CAs. */
  ca?: string | Buffer;
  /** Send the token over plain ws:// to a host other than this one (refused without). */
  insecure?: boolean;
  /** Pull mode: tasks asked for per thread at least (more for cheap tasks, see creditsFor). */
  prefetch?: number;
  maxResultBytes?: number;
  maxFrameBytes?: number;
  threadMemoryMb?: number;
  /** How long a drain waits for running tasks. */
  drainTimeoutMs?: number;
  /** Task threads lock process.kill, exit, new Worker… (`taskgrid worker --sandbox`). */
  sandbox?: boolean;
  /** What this worker can run: a task runs only on a worker with all of its labels. */
  labels?: string[];
  log: Logger;
}

/** Every option set: the given ones checked, the rest defaulted. */
export type WorkerConfig = Required<Omit<WorkerOptions, 'token' | 'ca'>> & {
  token: string | undefined;
  ca: string | undefined;
};

/** How long a drain waits for running tasks unless told otherwise. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** Reconnects to the server: 50-100 ms at first, at most 10 s apart (a restart of thousands). */
export const RECONNECT: BackoffPolicy = { baseMs: 100, maxMs: 10_000 };

const OPTION_NAMES = [
  'url',
  'threads',
  'token',
  'ca',
  'insecure',
  'prefetch',
  'maxResultBytes',
  'maxFrameBytes',
  'threadMemoryMb',
  'drainTimeoutMs',
  'sandbox',
  'labels',
  'log',
];

const LOG_METHODS = ['debug', 'info', 'warn', 'error'] as const;

export function resolveWorkerOptions(options: unknown): WorkerConfig {
  const given = objectOption('options', options, OPTION_NAMES);
  const int = (name: string, fallback: number, min: number, max?: number) =>
    intOption(name, orDefault(given[name], fallback), min, max);
  const url = urlOption('url', given.url, ['ws:', 'wss:']);
  const token = optionalTextOption('token', given.token);
  const insecure = boolOption('insecure', orDefault(given.insecure, false));
  checkTokenTransport('url', url, token !== undefined, insecure);
  return {
    url,
    threads: int('threads', defaultThreads(), THREADS_RANGE.min, THREADS_RANGE.max),
    token,
    ca: given.ca === undefined ? undefined : pemOption('ca', given.ca),
    insecure,
    prefetch: int('prefetch', DEFAULT_PREFETCH, PREFETCH_RANGE.min, PREFETCH_RANGE.max),
    maxResultBytes: int('maxResultBytes', DEFAULT_RESULT_BYTES, 1),
    maxFrameBytes: int('maxFrameBytes', DEFAULT_FRAME_BYTES, 1),
    threadMemoryMb: int('threadMemoryMb', DEFAULT_THREAD_MEMORY_MB, 1),
    drainTimeoutMs: int('drainTimeoutMs', DEFAULT_DRAIN_TIMEOUT_MS, 0),
    sandbox: boolOption('sandbox', orDefault(given.sandbox, false)),
    labels: labelsOption('labels', given.labels),
    log: logOption(given.log),
  };
}

function logOption(value: unknown): Logger {
  if (isLogger(value)) return value;
  throw new OptionError('log', 'a pino Logger', value);
}

function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  // Reflect.get: a pino logger's methods sit on its prototype, not on the object itself.
  return LOG_METHODS.every((m) => typeof Reflect.get(value, m) === 'function');
}
