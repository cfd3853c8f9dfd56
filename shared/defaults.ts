/**
 * The defaults that more than one part of the grid needs, each written once:
 * the server's config (server/server-config.ts, home of the server-only
 * defaults), the worker's options (worker/worker-options.ts, home of the
 * worker-only ones) and the CLI's flags and help text read them here, with
 * the ranges that both the server and the worker check.
 */

import { availableParallelism } from 'node:os';

export const MiB = 1024 * 1024;

/** Loopback: without a token the server must not be reachable from other machines. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8000;
/** The default server's worker socket. */
export const DEFAULT_WORKER_URL = `ws://${DEFAULT_HOST}:${DEFAULT_PORT}/ws`;
/** The default server's REST address (the client commands). */
export const DEFAULT_SERVER_URL = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_KEY_PREFIX = 'taskgrid:';
/** Shards of the queue on a Redis Cluster (`--shards`): enough to spread over 16 masters. */
export const DEFAULT_SHARDS = 16;
/** A task id names its shard in 16 bits (server/store/shard-map.ts); more than this spreads no better. */
export const MAX_SHARDS = 1024;

/** Task threads: one per core. */
export function defaultThreads(): number {
  return availableParallelism();
}
export const THREADS_RANGE = { min: 1, max: 1024 } as const;

/** Tasks a worker (or the local pool) holds per thread at least (see creditsFor). */
export const DEFAULT_PREFETCH = 2;
export const PREFETCH_RANGE = { min: 1, max: 10_000 } as const;

/** Old-generation heap of each task thread (MB). */
export const DEFAULT_THREAD_MEMORY_MB = 256;
/** Largest result a task may return; a larger one fails it with ResultTooLargeError. */
export const DEFAULT_RESULT_BYTES = 8 * MiB;
/** Largest WebSocket frame a server takes, and what a worker assumes before the welcome says. */
export const DEFAULT_FRAME_BYTES = 64 * MiB;
/** How often the server pings a worker; a worker assumes it until the welcome says. */
export const DEFAULT_HEARTBEAT_MS = 5_000;
