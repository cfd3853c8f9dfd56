/** The server's settings, with the defaults the README documents. */

import { availableParallelism } from 'node:os';
import type { Mode } from '../shared/types.js';

export interface Limits {
  /** Largest REST request body (413 past it). */
  bodyBytes: number;
  /** Largest function source (413). */
  functionBytes: number;
  /** Largest argument payload of one task (413). */
  argsBytes: number;
  /** Most payloads in one execute_batch (413). */
  batchLength: number;
  /** Largest result; a larger one fails the task with ResultTooLargeError. */
  resultBytes: number;
  /** Largest WebSocket frame (close 1009). */
  frameBytes: number;
  /** Most long-polls parked at once (429 past it). */
  parkedPolls: number;
  /**
   * Bytes a worker socket may send before its hello is accepted (close 1009,
   * connection dropped): nothing larger is read from a peer not yet authenticated.
   */
  helloBytes: number;
  /** Open sockets on /ws and /ws/client together (HTTP 503 at the upgrade past it). */
  connections: number;
  /** Open sockets from one IP address (HTTP 429 at the upgrade past it). */
  connectionsPerIp: number;
}

export type StoreConfig =
  | { kind: 'memory' }
  | { kind: 'redis'; url: string; prefix: string; required: boolean };

export interface ServerConfig {
  mode: Mode;
  host: string;
  port: number;
  store: StoreConfig;
  /** Local mode: threads in this process. */
  threads: number;
  /** Tasks a worker (or the local pool) may hold per thread. */
  prefetch: number;
  token: string | undefined;
  insecure: boolean;
  taskTimeoutMs: number;
  maxAttempts: number;
  leaseMs: number;
  heartbeatMs: number;
  /** Heartbeats a worker may miss before it is declared lost. */
  heartbeatTolerance: number;
  resultTtlSeconds: number;
  /** How long an idempotency key maps to the task first stored under it. */
  idempotencyTtlSeconds: number;
  /**
   * The server fails a task whose holder sent no result this long after its
   * timeout (plus its wait behind tasks handed out before it).
   */
  deadlineGraceMs: number;
  /** Memory limit of each task thread (MB of old generation). */
  threadMemoryMb: number;
  /** Outcomes held while the store is unreachable. */
  outcomeBuffer: number;
  /** Bytes of outcome values held while the store is unreachable. */
  outcomeBufferBytes: number;
  /** Function sources kept in memory, least recently used dropped first (re-read on a miss). */
  functionCacheBytes: number;
  limits: Limits;
}

const MiB = 1024 * 1024;

export function defaultConfig(): ServerConfig {
  return {
    mode: 'local',
    host: '127.0.0.1',
    port: 8000,
    store: { kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'taskgrid:', required: false },
    threads: availableParallelism(),
    prefetch: 2,
    token: undefined,
    insecure: false,
    taskTimeoutMs: 60_000,
    maxAttempts: 3,
    leaseMs: 30_000,
    heartbeatMs: 5_000,
    heartbeatTolerance: 3,
    resultTtlSeconds: 0,
    idempotencyTtlSeconds: 86_400,
    deadlineGraceMs: 5_000,
    threadMemoryMb: 256,
    outcomeBuffer: 100_000,
    outcomeBufferBytes: 512 * MiB,
    functionCacheBytes: 64 * MiB,
    limits: {
      bodyBytes: 10 * MiB,
      functionBytes: 1 * MiB,
      argsBytes: 1 * MiB,
      batchLength: 10_000,
      resultBytes: 8 * MiB,
      frameBytes: 64 * MiB,
      parkedPolls: 10_000,
      helloBytes: 64 * 1024,
      // Room for the 10,000-worker benchmark from one host, plus its clients.
      connections: 20_000,
      connectionsPerIp: 12_000,
    },
  };
}
