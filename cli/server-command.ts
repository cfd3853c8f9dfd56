/** `taskgrid server`: flags and environment → ServerConfig → a running GridServer. */

import type { Command } from 'commander';
import { GridServer } from '../server/grid-server.js';
import { defaultConfig, type ServerConfig } from '../server/server-config.js';
import { ConfigError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { choiceOption, intOption, urlOption } from '../shared/options.js';
import { MODES } from '../shared/types.js';

export interface ServerFlags {
  mode?: string;
  port?: string;
  host?: string;
  redis?: string;
  store?: string;
  prefix?: string;
  threads?: string;
  prefetch?: string;
  token?: string;
  insecure?: boolean;
  taskTimeout?: string;
  maxAttempts?: string;
  heartbeat?: string;
  heartbeatTolerance?: string;
  lease?: string;
  resultTtl?: string;
  idempotencyTtl?: string;
  deadlineGrace?: string;
  maxConnections?: string;
  maxConnectionsPerIp?: string;
  functionCacheMb?: string;
}

const env = process.env;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Builds the config from flags, then environment, then defaults. Throws ConfigError. */
export function serverConfig(flags: ServerFlags): ServerConfig {
  const config = defaultConfig();
  config.mode = choiceOption('--mode', flags.mode ?? env.TASKGRID_MODE ?? 'local', MODES);
  config.port = intOption('--port', flags.port ?? env.PORT ?? '8000', 0, 65535);
  config.host = flags.host ?? env.TASKGRID_HOST ?? '127.0.0.1';
  const threads = flags.threads ?? env.TASKGRID_THREADS;
  if (threads !== undefined) config.threads = intOption('--threads', threads, 1, 1024);
  const prefetch = flags.prefetch ?? env.TASKGRID_PREFETCH;
  if (prefetch !== undefined) config.prefetch = intOption('--prefetch', prefetch, 1, 10_000);
  const timeout = flags.taskTimeout ?? env.TASKGRID_TASK_TIMEOUT_MS;
  if (timeout !== undefined) config.taskTimeoutMs = intOption('--task-timeout', timeout, 1);
  const attempts = flags.maxAttempts ?? env.TASKGRID_MAX_ATTEMPTS;
  if (attempts !== undefined) config.maxAttempts = intOption('--max-attempts', attempts, 1, 1000);
  const heartbeat = flags.heartbeat ?? env.TASKGRID_HEARTBEAT_MS;
  if (heartbeat !== undefined) config.heartbeatMs = intOption('--heartbeat', heartbeat, 10);
  const tolerance = flags.heartbeatTolerance ?? env.TASKGRID_HEARTBEAT_TOLERANCE;
  if (tolerance !== undefined) {
    config.heartbeatTolerance = intOption('--heartbeat-tolerance', tolerance, 1, 100);
  }
  const lease = flags.lease ?? env.TASKGRID_LEASE_MS;
  if (lease !== undefined) config.leaseMs = intOption('--lease', lease, 100);
  const ttl = flags.resultTtl ?? env.TASKGRID_RESULT_TTL;
  if (ttl !== undefined) config.resultTtlSeconds = intOption('--result-ttl', ttl, 0);
  const idemTtl = flags.idempotencyTtl ?? env.TASKGRID_IDEMPOTENCY_TTL;
  if (idemTtl !== undefined) {
    config.idempotencyTtlSeconds = intOption('--idempotency-ttl', idemTtl, 1);
  }
  const grace = flags.deadlineGrace ?? env.TASKGRID_DEADLINE_GRACE_MS;
  if (grace !== undefined) config.deadlineGraceMs = intOption('--deadline-grace', grace, 0);
  const connections = flags.maxConnections ?? env.TASKGRID_MAX_CONNECTIONS;
  if (connections !== undefined) {
    config.limits.connections = intOption('--max-connections', connections, 1);
  }
  const perIp = flags.maxConnectionsPerIp ?? env.TASKGRID_MAX_CONNECTIONS_PER_IP;
  if (perIp !== undefined) {
    config.limits.connectionsPerIp = intOption('--max-connections-per-ip', perIp, 1);
  }
  const cacheMb = flags.functionCacheMb ?? env.TASKGRID_FUNCTION_CACHE_MB;
  if (cacheMb !== undefined) {
    config.functionCacheBytes = intOption('--function-cache-mb', cacheMb, 0) * 1024 * 1024;
  }

  const storeKind = choiceOption('--store', flags.store ?? env.TASKGRID_STORE ?? 'redis', [
    'redis',
    'memory',
  ] as const);
  if (storeKind === 'memory') {
    if (flags.redis) throw new ConfigError('--redis and --store memory cannot be used together');
    config.store = { kind: 'memory' };
  } else {
    const given = flags.redis ?? (env.REDIS_URL || undefined);
    // Where to look for a Redis when none was named; no answer there means the memory store.
    const fallback = env.TASKGRID_DEFAULT_REDIS_URL || 'redis://127.0.0.1:6379';
    const url = urlOption('--redis', given ?? fallback, ['redis:', 'rediss:']);
    const prefix = flags.prefix ?? env.TASKGRID_PREFIX ?? 'taskgrid:';
    config.store = { kind: 'redis', url, prefix, required: given !== undefined };
  }

  config.token = flags.token ?? env.TASKGRID_TOKEN ?? undefined;
  if (config.token === '') config.token = undefined;
  config.insecure = flags.insecure ?? false;
  if (!config.token && !isLoopback(config.host) && !config.insecure) {
    throw new ConfigError(
      `Refusing to listen on ${config.host} without a token: anyone who reaches it could run code. ` +
        'Set TASKGRID_TOKEN (or --token <secret>), listen on 127.0.0.1, or pass --insecure to accept the risk.',
    );
  }
  return config;
}

export function addServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the taskgrid server (REST API, worker gateway, dispatcher)')
    .option('--mode <mode>', 'dispatch mode: local, push or pull (env TASKGRID_MODE)', undefined)
    .option('--port <n>', 'HTTP port, 0 for any free port (env PORT)', undefined)
    .option('--host <addr>', 'address to bind (env TASKGRID_HOST)', undefined)
    .option('--redis <url>', 'Redis URL (env REDIS_URL); default redis://127.0.0.1:6379')
    .option('--store <kind>', 'redis or memory (env TASKGRID_STORE)')
    .option('--prefix <p>', 'Redis key prefix (env TASKGRID_PREFIX)', undefined)
    .option('--threads <n>', 'local mode: task threads (env TASKGRID_THREADS); default: cores')
    .option(
      '--prefetch <n>',
      'tasks a worker holds per thread at least; more for cheap tasks (env TASKGRID_PREFETCH); default 2',
    )
    .option('--token <secret>', 'require this bearer token (env TASKGRID_TOKEN)')
    .option('--insecure', 'allow a non-loopback address without a token')
    .option(
      '--task-timeout <ms>',
      'default task timeout (env TASKGRID_TASK_TIMEOUT_MS); default 60000',
    )
    .option(
      '--max-attempts <n>',
      'attempts before a lost task fails (env TASKGRID_MAX_ATTEMPTS); default 3',
    )
    .option(
      '--heartbeat <ms>',
      'worker heartbeat interval (env TASKGRID_HEARTBEAT_MS); default 5000',
    )
    .option('--heartbeat-tolerance <n>', 'missed heartbeats before a worker is lost; default 3')
    .option('--lease <ms>', 'lease length of a RUNNING task (env TASKGRID_LEASE_MS); default 30000')
    .option('--result-ttl <s>', 'forget finished tasks after s seconds, 0 keeps them; default 0')
    .option(
      '--idempotency-ttl <s>',
      'seconds an idempotency key maps to its task (env TASKGRID_IDEMPOTENCY_TTL); default 86400',
    )
    .option(
      '--deadline-grace <ms>',
      'a task with no result this long past its timeout is failed by the server (env TASKGRID_DEADLINE_GRACE_MS); default 5000',
    )
    .option(
      '--max-connections <n>',
      'open sockets on /ws and /ws/client together; more get HTTP 503 (env TASKGRID_MAX_CONNECTIONS); default 20000',
    )
    .option(
      '--max-connections-per-ip <n>',
      'open sockets from one address; more get HTTP 429 (env TASKGRID_MAX_CONNECTIONS_PER_IP); default 12000',
    )
    .option(
      '--function-cache-mb <n>',
      'function sources kept in memory, least recently used dropped (env TASKGRID_FUNCTION_CACHE_MB); default 64',
    )
    .action(async (flags: ServerFlags) => {
      const config = serverConfig(flags);
      const log = createLogger('taskgrid-server');
      if (config.insecure && !config.token && !isLoopback(config.host)) {
        log.warn(
          `INSECURE: listening on ${config.host} with no token; anyone who reaches it can run code`,
        );
      }
      const server = await GridServer.start(config, { log });
      const stop = (signal: string) => {
        log.info({ signal }, 'shutting down: no new submissions, handing work back');
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
