/**
 * The server's settings: the defaults the README documents (the server-only
 * ones live here, the shared ones in shared/defaults.ts), and the one check
 * that `GridServer.start` runs on whatever it is given.
 */

import { createSecureContext } from 'node:tls';
import {
  DEFAULT_FRAME_BYTES,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_HOST,
  DEFAULT_KEY_PREFIX,
  DEFAULT_PORT,
  DEFAULT_PREFETCH,
  DEFAULT_REDIS_URL,
  DEFAULT_RESULT_BYTES,
  DEFAULT_SHARDS,
  DEFAULT_THREAD_MEMORY_MB,
  defaultThreads,
  MAX_SHARDS,
  MiB,
  PREFETCH_RANGE,
  THREADS_RANGE,
} from '../shared/defaults.js';
import { ConfigError } from '../shared/errors.js';
import {
  boolOption,
  choiceOption,
  intOption,
  labelsOption,
  OptionError,
  objectOption,
  optionalTextOption,
  orDefault,
  textOption,
  urlOption,
} from '../shared/options.js';
import { isLoopbackName, pemFileOption, pemOption } from '../shared/transport-security.js';
import { MODES, type Mode } from '../shared/types.js';
import type { TokenEntry } from './tenants.js';
import { parseTokens, readTokensFile } from './tokens-file.js';

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

export interface TlsConfig {
  cert: string;
  key: string;
}

export type StoreConfig =
  | { kind: 'memory' }
  | { kind: 'redis'; url: string; prefix: string; required: boolean }
  /** A Redis Cluster: some of its nodes (host:port), and the shards the queue is split into. */
  | { kind: 'redis-cluster'; nodes: string[]; prefix: string; shards: number };

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
  /**
   * The tokens file's entries, checked (tokens-file.ts); undefined without
   * one. `tokensFile` (--tokens) is read into this by resolveServerConfig.
   */
  tokens: readonly TokenEntry[] | undefined;
  insecure: boolean;
  /**
   * Certificate and key (PEM) to serve https and wss on the one port; plain
   * http and ws without. `tlsCertFile` / `tlsKeyFile` (--tls-cert, --tls-key) are read into this.
   */
  tls: TlsConfig | undefined;
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
  /** How long an idle HTTP keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
  /** Local mode: what the pool can run (a task runs only where all its labels are). */
  labels: string[];
  limits: Limits;
}

/** Finished tasks and their results are kept a day (0 keeps them); the stores default to it too. */
export const DEFAULT_RESULT_TTL_SECONDS = 86_400;
/** A day; the stores default to it too. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;

export function defaultConfig(): ServerConfig {
  return {
    mode: 'local',
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
    store: { kind: 'redis', url: DEFAULT_REDIS_URL, prefix: DEFAULT_KEY_PREFIX, required: false },
    threads: defaultThreads(),
    prefetch: DEFAULT_PREFETCH,
    token: undefined,
    tokens: undefined,
    insecure: false,
    tls: undefined,
    taskTimeoutMs: 60_000,
    maxAttempts: 3,
    leaseMs: 30_000,
    heartbeatMs: DEFAULT_HEARTBEAT_MS,
    heartbeatTolerance: 3,
    resultTtlSeconds: DEFAULT_RESULT_TTL_SECONDS,
    idempotencyTtlSeconds: DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    deadlineGraceMs: 5_000,
    threadMemoryMb: DEFAULT_THREAD_MEMORY_MB,
    outcomeBuffer: 100_000,
    outcomeBufferBytes: 512 * MiB,
    functionCacheBytes: 64 * MiB,
    // Longer than the 60 s idle timeout of common load balancers, so they close an idle
    // connection first: otherwise a request may arrive on one the server is closing (a 502).
    keepAliveTimeoutMs: 65_000,
    labels: [],
    limits: {
      bodyBytes: 10 * MiB,
      functionBytes: 1 * MiB,
      argsBytes: 1 * MiB,
      batchLength: 10_000,
      resultBytes: DEFAULT_RESULT_BYTES,
      frameBytes: DEFAULT_FRAME_BYTES,
      parkedPolls: 10_000,
      helloBytes: 64 * 1024,
      // Room for the 10,000-worker benchmark from one host, plus its clients.
      connections: 20_000,
      connectionsPerIp: 12_000,
    },
  };
}

/** What `GridServer.start` takes: any part of ServerConfig; the rest comes from defaultConfig(). */
export type ServerOptions = Partial<Omit<ServerConfig, 'limits' | 'store' | 'tokens' | 'tls'>> & {
  /** PEM certificate and key (strings or Buffers); instead of `tlsCertFile` and `tlsKeyFile`. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** A PEM certificate file (chain first to last) and its key file; instead of `tls`. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  limits?: Partial<Limits>;
  store?: StoreOptions;
  /** A tokens file to read (tokens-file.ts); instead of `tokens`. */
  tokensFile?: string;
  /** The tokens file's entries, as parsed JSON (checked here); instead of `tokensFile`. */
  tokens?: readonly unknown[];
};

export type StoreOptions =
  | { kind: 'memory' }
  | { kind: 'redis'; url?: string; prefix?: string; required?: boolean }
  | { kind: 'redis-cluster'; nodes: string | readonly string[]; prefix?: string; shards?: number };

type IntKey = {
  [K in keyof ServerConfig]: ServerConfig[K] extends number ? K : never;
}[keyof ServerConfig];

const ANY = Number.MAX_SAFE_INTEGER;

/** The range each integer option is checked against: [min, max]. */
const INT_RANGES: Record<IntKey, readonly [number, number]> = {
  port: [0, 65_535],
  threads: [THREADS_RANGE.min, THREADS_RANGE.max],
  prefetch: [PREFETCH_RANGE.min, PREFETCH_RANGE.max],
  taskTimeoutMs: [1, ANY],
  maxAttempts: [1, 1000],
  leaseMs: [100, ANY],
  heartbeatMs: [10, ANY],
  heartbeatTolerance: [1, 100],
  resultTtlSeconds: [0, ANY],
  idempotencyTtlSeconds: [1, ANY],
  deadlineGraceMs: [0, ANY],
  threadMemoryMb: [1, ANY],
  outcomeBuffer: [1, ANY],
  outcomeBufferBytes: [1, ANY],
  functionCacheBytes: [0, ANY],
  keepAliveTimeoutMs: [0, ANY],
};

const LIMIT_RANGES: Record<keyof Limits, readonly [number, number]> = {
  bodyBytes: [1, ANY],
  functionBytes: [1, ANY],
  argsBytes: [1, ANY],
  batchLength: [1, ANY],
  resultBytes: [1, ANY],
  frameBytes: [1, ANY],
  parkedPolls: [0, ANY],
  helloBytes: [1, ANY],
  connections: [1, ANY],
  connectionsPerIp: [1, ANY],
};

const OPTION_NAMES = [
  ...Object.keys(INT_RANGES),
  'mode',
  'host',
  'store',
  'token',
  'tokens',
  'tokensFile',
  'insecure',
  'tls',
  'tlsCertFile',
  'tlsKeyFile',
  'limits',
  'labels',
];

/**
 * defaultConfig() with `options` laid over it, every option checked: types,
 * ranges, choices, URL shapes, and no misspelt names. Throws OptionError
 * (a ConfigError) naming the option; a public address without a token is
 * refused, as Redis's protected mode does, unless `insecure` says otherwise.
 */
export function resolveServerConfig(options: unknown = {}): ServerConfig {
  const given = objectOption('options', options, OPTION_NAMES);
  const defaults = defaultConfig();
  const config: ServerConfig = {
    ...defaults,
    mode: choiceOption('mode', orDefault(given.mode, defaults.mode), MODES),
    host: textOption('host', orDefault(given.host, defaults.host)),
    store: storeConfig(orDefault(given.store, defaults.store)),
    token: optionalTextOption('token', given.token),
    tokens: tokensConfig(given.tokensFile, given.tokens, given.token),
    insecure: boolOption('insecure', orDefault(given.insecure, defaults.insecure)),
    tls: tlsConfig(given.tls, given.tlsCertFile, given.tlsKeyFile),
    labels: labelsOption('labels', given.labels),
    limits: limitsConfig(orDefault(given.limits, {}), defaults.limits),
  };
  for (const [name, [min, max]] of Object.entries(INT_RANGES)) {
    const key = name as IntKey;
    config[key] = intOption(name, orDefault(given[name], defaults[key]), min, max);
  }
  if (!config.token && !config.tokens && !config.insecure && !isLoopbackName(config.host)) {
    throw new ConfigError(
      `Refusing to listen on ${config.host} without a token: anyone who reaches it could run code. ` +
        'Set a token (`token`: TASKGRID_TOKEN or --token <secret>) or a tokens file (--tokens), ' +
        'listen on 127.0.0.1, ' +
        'or set `insecure` (--insecure) to accept the risk.',
    );
  }
  return config;
}

/** The tokens file's entries, from a file (`tokensFile`) or given as is (`tokens`). */
function tokensConfig(
  file: unknown,
  entries: unknown,
  token: unknown,
): readonly TokenEntry[] | undefined {
  const single = typeof token === 'string' ? token : undefined;
  if (file !== undefined && entries !== undefined) {
    throw new ConfigError('Give `tokensFile` (--tokens) or `tokens`, not both');
  }
  if (file !== undefined) return readTokensFile(textOption('tokensFile', file), single);
  return entries === undefined ? undefined : parseTokens(entries, 'Option `tokens`', single);
}

/** The certificate and key, from files or given as PEM, checked to form a pair. */
function tlsConfig(given: unknown, certFile: unknown, keyFile: unknown): TlsConfig | undefined {
  const files = certFile !== undefined || keyFile !== undefined;
  if (given !== undefined && files) {
    throw new ConfigError(
      'Give `tls` or `tlsCertFile` and `tlsKeyFile` (--tls-cert, --tls-key), not both',
    );
  }
  let tls: TlsConfig;
  if (files) {
    if (certFile === undefined)
      throw new OptionError('tlsCertFile', 'given with `tlsKeyFile`', certFile);
    if (keyFile === undefined)
      throw new OptionError('tlsKeyFile', 'given with `tlsCertFile`', keyFile);
    tls = {
      cert: pemFileOption('tlsCertFile', certFile),
      key: pemFileOption('tlsKeyFile', keyFile),
    };
  } else if (given !== undefined) {
    const pair = objectOption('tls', given, ['cert', 'key']);
    tls = { cert: pemOption('tls.cert', pair.cert), key: pemOption('tls.key', pair.key) };
  } else {
    return undefined;
  }
  try {
    // Refused here, not at the first handshake: a key that does not match its certificate, bad PEM.
    createSecureContext(tls);
  } catch (error) {
    throw new ConfigError(
      `The TLS certificate and key do not form a usable pair: ${(error as Error).message}`,
    );
  }
  return tls;
}

function limitsConfig(value: unknown, defaults: Limits): Limits {
  const given = objectOption('limits', value, Object.keys(LIMIT_RANGES));
  const limits = { ...defaults };
  for (const [name, [min, max]] of Object.entries(LIMIT_RANGES)) {
    const key = name as keyof Limits;
    limits[key] = intOption(`limits.${name}`, orDefault(given[name], defaults[key]), min, max);
  }
  return limits;
}

function storeConfig(value: unknown): StoreConfig {
  const given = objectOption('store', value, [
    'kind',
    'url',
    'prefix',
    'required',
    'nodes',
    'shards',
  ]);
  const kind = choiceOption('store.kind', given.kind, [
    'redis',
    'memory',
    'redis-cluster',
  ] as const);
  if (kind === 'memory') {
    objectOption('store', value, ['kind']);
    return { kind };
  }
  const prefix = textOption('store.prefix', orDefault(given.prefix, DEFAULT_KEY_PREFIX));
  if (kind === 'redis-cluster') {
    objectOption('store', value, ['kind', 'nodes', 'prefix', 'shards']);
    return {
      kind,
      nodes: clusterNodes(given.nodes),
      prefix,
      shards: intOption('store.shards', orDefault(given.shards, DEFAULT_SHARDS), 1, MAX_SHARDS),
    };
  }
  objectOption('store', value, ['kind', 'url', 'prefix', 'required']);
  return {
    kind,
    url: urlOption('store.url', orDefault(given.url, DEFAULT_REDIS_URL), ['redis:', 'rediss:']),
    prefix,
    required: boolOption('store.required', orDefault(given.required, false)),
  };
}

/** `host:port` items, as a list or one comma-separated text. */
function clusterNodes(value: unknown): string[] {
  const items = typeof value === 'string' ? value.split(',').map((n) => n.trim()) : value;
  const valid =
    Array.isArray(items) &&
    items.length > 0 &&
    items.every((n) => typeof n === 'string' && /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/.test(n));
  if (!valid)
    throw new OptionError('store.nodes', 'cluster nodes as host:port[,host:port…]', value);
  return items.filter((n): n is string => typeof n === 'string');
}
