/** `taskgrid server`: flags and environment → ServerConfig → a running GridServer. */

import type { Command } from 'commander';
import { defaultConfig, resolveServerConfig, type ServerConfig } from '../server/server-config.js';
import { DEFAULT_REDIS_URL, MiB } from '../shared/defaults.js';
import { ConfigError } from '../shared/errors.js';
import { isLoopbackName } from '../shared/transport-security.js';
import { exitOnSignal } from './exit-on-signal.js';
import {
  addOptionFlags,
  type FlagValues,
  givenText,
  inFlagTerms,
  type OptionFlag,
  optionValue,
  setOption,
} from './option-flags.js';

/** Kept for callers of the old name: the server's own loopback test. */
export const isLoopback = isLoopbackName;

export type ServerFlags = FlagValues;

/** The server's flags; `--store` and `--redis` have more rules in serverConfig below. */
const FLAGS: readonly OptionFlag[] = [
  {
    flag: '--mode <mode>',
    option: 'mode',
    env: 'TASKGRID_MODE',
    help: 'dispatch mode: local, push or pull',
    text: true,
  },
  { flag: '--port <n>', option: 'port', env: 'PORT', help: 'HTTP port, 0 for any free port' },
  {
    flag: '--host <addr>',
    option: 'host',
    env: 'TASKGRID_HOST',
    help: 'address to bind',
    text: true,
  },
  { flag: '--redis <url>', option: 'store.url', env: 'REDIS_URL', help: 'Redis URL', text: true },
  {
    flag: '--redis-cluster <nodes>',
    option: 'store.nodes',
    env: 'TASKGRID_REDIS_CLUSTER',
    help: 'shard the queue over a Redis Cluster: some nodes, host:port[,host:port…]',
    text: true,
  },
  {
    flag: '--shards <n>',
    option: 'store.shards',
    env: 'TASKGRID_SHARDS',
    help: 'with --redis-cluster: shards the queue is split into (the same on every server)',
  },
  {
    flag: '--store <kind>',
    option: 'store.kind',
    env: 'TASKGRID_STORE',
    help: 'redis, memory or redis-cluster',
    text: true,
  },
  {
    flag: '--prefix <p>',
    option: 'store.prefix',
    env: 'TASKGRID_PREFIX',
    help: 'Redis key prefix',
    text: true,
  },
  {
    flag: '--label <label>',
    option: 'labels',
    env: 'TASKGRID_LABELS',
    help: 'local mode: what the pool can run, repeatable (gpu, region=eu)',
    list: true,
  },
  {
    flag: '--threads <n>',
    option: 'threads',
    env: 'TASKGRID_THREADS',
    help: 'local mode: task threads',
  },
  {
    flag: '--prefetch <n>',
    option: 'prefetch',
    env: 'TASKGRID_PREFETCH',
    help: 'tasks a worker holds per thread at least; more for cheap tasks',
  },
  {
    flag: '--token <secret>',
    option: 'token',
    env: 'TASKGRID_TOKEN',
    help: 'require this bearer token',
    text: true,
  },
  {
    flag: '--tokens <file>',
    option: 'tokensFile',
    env: 'TASKGRID_TOKENS_FILE',
    help: 'tenants: a JSON array of {token, tenant, weight?} and {token, role: "worker", tenant?}',
    text: true,
  },
  { flag: '--insecure', option: 'insecure', help: 'allow a non-loopback address without a token' },
  {
    flag: '--tls-cert <file>',
    option: 'tlsCertFile',
    env: 'TASKGRID_TLS_CERT',
    help: 'serve https and wss with this PEM certificate (chain) file; needs --tls-key',
    text: true,
  },
  {
    flag: '--tls-key <file>',
    option: 'tlsKeyFile',
    env: 'TASKGRID_TLS_KEY',
    help: "the certificate's PEM private key file",
    text: true,
  },
  {
    flag: '--task-timeout <ms>',
    option: 'taskTimeoutMs',
    env: 'TASKGRID_TASK_TIMEOUT_MS',
    help: 'default task timeout',
  },
  {
    flag: '--max-attempts <n>',
    option: 'maxAttempts',
    env: 'TASKGRID_MAX_ATTEMPTS',
    help: 'attempts before a lost task fails',
  },
  {
    flag: '--heartbeat <ms>',
    option: 'heartbeatMs',
    env: 'TASKGRID_HEARTBEAT_MS',
    help: 'worker heartbeat interval',
  },
  {
    flag: '--heartbeat-tolerance <n>',
    option: 'heartbeatTolerance',
    env: 'TASKGRID_HEARTBEAT_TOLERANCE',
    help: 'missed heartbeats before a worker is lost',
  },
  {
    flag: '--lease <ms>',
    option: 'leaseMs',
    env: 'TASKGRID_LEASE_MS',
    help: 'lease length of a RUNNING task',
  },
  {
    flag: '--result-ttl <s>',
    option: 'resultTtlSeconds',
    env: 'TASKGRID_RESULT_TTL',
    help: 'forget finished tasks after s seconds, 0 keeps them',
  },
  {
    flag: '--idempotency-ttl <s>',
    option: 'idempotencyTtlSeconds',
    env: 'TASKGRID_IDEMPOTENCY_TTL',
    help: 'seconds an idempotency key maps to its task',
  },
  {
    flag: '--deadline-grace <ms>',
    option: 'deadlineGraceMs',
    env: 'TASKGRID_DEADLINE_GRACE_MS',
    help: 'a task with no result this long past its timeout is failed by the server',
  },
  {
    flag: '--max-connections <n>',
    option: 'limits.connections',
    env: 'TASKGRID_MAX_CONNECTIONS',
    help: 'open sockets on /ws and /ws/client together; more get HTTP 503',
  },
  {
    flag: '--max-connections-per-ip <n>',
    option: 'limits.connectionsPerIp',
    env: 'TASKGRID_MAX_CONNECTIONS_PER_IP',
    help: 'open sockets from one address; more get HTTP 429',
  },
  {
    flag: '--function-cache-mb <n>',
    option: 'functionCacheBytes',
    env: 'TASKGRID_FUNCTION_CACHE_MB',
    help: 'function sources kept in memory, least recently used dropped',
    unit: MiB,
  },
];

/** The default a row's help states, read from the config the server would use. */
function defaultText(row: OptionFlag): string | undefined {
  if (row.option === 'threads') return 'cores';
  if (['token', 'tokensFile', 'insecure', 'tlsCertFile', 'tlsKeyFile'].includes(row.option)) {
    return undefined;
  }
  let value: unknown = defaultConfig();
  for (const part of row.option.split('.')) {
    value = typeof value === 'object' && value !== null ? Reflect.get(value, part) : undefined;
  }
  if (typeof value === 'number') return String(value / (row.unit ?? 1));
  return typeof value === 'string' ? value : undefined;
}

/**
 * Maps flags, then environment, onto server options and checks them the way
 * GridServer.start does. Throws ConfigError naming the flag.
 */
export function serverConfig(flags: ServerFlags): ServerConfig {
  const given = givenText(FLAGS, flags);
  const options: Record<string, unknown> = {};
  for (const [row, text] of given) setOption(options, row.option, optionValue(row, text));
  if (flags.insecure === true) options.insecure = true;
  const store = options.store;
  const kind = typeof store === 'object' && store !== null ? Reflect.get(store, 'kind') : undefined;
  if (kind === 'memory' && flags.redis) {
    throw new ConfigError('--redis and --store memory cannot be used together');
  }
  const cluster = [...given.keys()].some((row) => row.option === 'store.nodes');
  const shards = [...given.keys()].some((row) => row.option === 'store.shards');
  if (cluster || kind === 'redis-cluster') {
    if (flags.redis) throw new ConfigError('--redis and --redis-cluster cannot be used together');
    if (kind !== undefined && kind !== 'redis-cluster') {
      throw new ConfigError(`--redis-cluster and --store ${String(kind)} cannot be used together`);
    }
    if (!cluster) throw new ConfigError('--store redis-cluster needs --redis-cluster <nodes>');
    setOption(options, 'store.kind', 'redis-cluster');
    // REDIS_URL in the environment is for servers without a cluster.
    if (typeof options.store === 'object' && options.store !== null) {
      Reflect.deleteProperty(options.store, 'url');
    }
  } else if (shards) {
    throw new ConfigError('--shards needs --redis-cluster: one Redis is not sharded');
  } else if (kind === 'memory') {
    options.store = { kind };
  } else {
    // Where to look for a Redis when none was named; no answer there means the memory store.
    const named = [...given.keys()].some((row) => row.option === 'store.url');
    const fallback = process.env.TASKGRID_DEFAULT_REDIS_URL || DEFAULT_REDIS_URL;
    setOption(options, 'store.kind', kind ?? 'redis');
    if (!named) setOption(options, 'store.url', fallback);
    setOption(options, 'store.required', named);
  }
  return inFlagTerms(FLAGS, given, () => resolveServerConfig(options));
}

export function addServerCommand(program: Command): void {
  const command = program
    .command('server')
    .description('run the taskgrid server (REST API, worker gateway, dispatcher)');
  addOptionFlags(command, FLAGS, defaultText).action(async (flags: ServerFlags) => {
    const config = serverConfig(flags);
    // The server stack loads once a command needs it: `taskgrid --help` and the client commands stay quick.
    const [{ GridServer }, { createLogger }] = await Promise.all([
      import('../server/grid-server.js'),
      import('../shared/logger.js'),
    ]);
    const log = createLogger('taskgrid-server');
    const server = await GridServer.start(config, { log });
    exitOnSignal(log, 'shutting down: no new submissions, handing work back', () => server.close());
  });
}
