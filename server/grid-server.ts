/**
 * Puts the pieces together: store, dispatcher for the chosen mode, REST API,
 * worker gateway, long-poll waiters. `GridServer.start(config)` returns a
 * listening server; `close()` drains it.
 */

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../shared/logger.js';
import { isLoopbackName } from '../shared/transport-security.js';
import { createDispatcher } from './dispatch/create-dispatcher.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import { OutcomeWriter } from './dispatch/outcome-writer.js';
import { FunctionCache } from './function-cache.js';
import { CLIENT_PATH, ClientGateway } from './gateway/client-gateway.js';
import { ConnectionLimiter } from './gateway/connection-limiter.js';
import { refuseUpgrade } from './gateway/upgrade-refusal.js';
import { WORKER_PATH, WorkerGateway } from './gateway/worker-gateway.js';
import { BrowserGuard } from './http/browser-guard.js';
import { createHttpHandler } from './http/http-app.js';
import { LifecycleTimer } from './lifecycle-timer.js';
import { DashboardStats, GridMetrics } from './metrics.js';
import { ResultWaiters } from './result-waiters.js';
import { gridScheduler } from './schedules/grid-scheduler.js';
import { ScheduleService } from './schedules/schedule-service.js';
import type { Scheduler } from './schedules/scheduler.js';
import { resolveServerConfig, type ServerConfig, type ServerOptions } from './server-config.js';
import { openStore } from './store/open-store.js';
import type { StoreEvent, TaskStore } from './store/task-store.js';
import { TaskService } from './task-service.js';
import { Tenants } from './tenants.js';

const CLOSE_TIMEOUT_MS = 10_000;
/**
 * Connections the kernel queues before we accept them (capped by
 * net.core.somaxconn). Node's default, 511, overflows when thousands of
 * workers reconnect at once after a restart, and each SYN dropped then
 * costs its worker a 1 s TCP retransmit.
 */
const LISTEN_BACKLOG = 4096;

/**
 * Client sockets carry subscriptions (10,000 ids is ~400 KB) and submits;
 * a submit_batch frame may be as large as a REST body (limits.bodyBytes).
 */
const CLIENT_FRAME_BYTES = 1024 * 1024;

export interface StartOptions {
  log?: Logger;
  /** Use this store instead of opening one from the config (tests). */
  store?: TaskStore;
}

export class GridServer {
  readonly config: ServerConfig;
  readonly instanceId: string;
  readonly store: TaskStore;
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
  readonly metrics: GridMetrics;
  readonly #http: Server;
  readonly #scheme: 'http' | 'https';
  readonly #service: TaskService;
  readonly #waiters: ResultWaiters;
  readonly #outcomes: OutcomeWriter;
  readonly #gateway: WorkerGateway | undefined;
  readonly #clients: ClientGateway;
  /** Set when there is no token: origin and host checks for requests and upgrades alike. */
  readonly #guard: BrowserGuard | undefined;
  readonly #limiter: ConnectionLimiter;
  readonly #unsubscribe: () => void;
  readonly #timer: LifecycleTimer;
  readonly #scheduler: Scheduler;
  #closing: Promise<void> | undefined;

  private constructor(
    config: ServerConfig,
    store: TaskStore,
    instanceId: string,
    log: Logger,
    tenants: Tenants,
  ) {
    this.config = config;
    this.store = store;
    this.instanceId = instanceId;
    this.log = log;
    const waiters = new ResultWaiters(config.limits.parkedPolls);
    const functions = new FunctionCache(store, config.functionCacheBytes);
    const tenantLabels = tenants.enabled
      ? { names: tenants.names, tenantOfFunction: (fn: string) => functions.tenantOf(fn) }
      : undefined;
    const metrics = new GridMetrics(store, () => this.dispatcher, tenantLabels);
    const bufferLimits = { count: config.outcomeBuffer, bytes: config.outcomeBufferBytes };
    const outcomes = new OutcomeWriter(store, { limits: bufferLimits, metrics, log });
    const ctx = { store, instanceId, config, log, functions, outcomes, metrics, tenants };
    const { dispatcher, remote } = createDispatcher(ctx);
    const service = new TaskService({
      store,
      waiters,
      functions,
      dispatcher,
      config,
      metrics,
      tenants: tenants.enabled,
    });
    // Without a token, what a web page could send or open is refused (browser-guard.ts).
    const guard = tenants.required ? undefined : new BrowserGuard(config.host);
    this.metrics = metrics;
    this.dispatcher = dispatcher;
    this.#waiters = waiters;
    this.#outcomes = outcomes;
    this.#service = service;
    this.#guard = guard;
    const schedules = new ScheduleService({ store, argsBytes: config.limits.argsBytes });
    this.#scheduler = gridScheduler(store, service, log);
    const app = createHttpHandler({
      config,
      guard,
      service,
      store,
      dispatcher,
      metrics,
      schedules,
      log,
      tenants,
    });
    // https and wss share the port as http and ws do: the upgrade handler sees the same requests.
    this.#http = config.tls ? createHttpsServer(config.tls, app) : createServer(app);
    this.#scheme = config.tls ? 'https' : 'http';
    this.#http.keepAliveTimeout = config.keepAliveTimeoutMs;

    this.#gateway =
      remote &&
      new WorkerGateway({
        handler: remote,
        tenants,
        maxFrameBytes: config.limits.frameBytes,
        helloBytes: config.limits.helloBytes,
        heartbeatMs: config.heartbeatMs,
        heartbeatTolerance: config.heartbeatTolerance,
        log,
      });
    const stats = new DashboardStats(metrics, store, dispatcher);
    this.#clients = new ClientGateway({
      store,
      tenants,
      maxFrameBytes: Math.min(
        config.limits.frameBytes,
        Math.max(CLIENT_FRAME_BYTES, config.limits.bodyBytes),
      ),
      log,
      stats: () => stats.current(),
      submit: (functionId, payloads, options) => service.submit(functionId, payloads, options),
    });
    this.#limiter = new ConnectionLimiter(
      config.limits.connections,
      config.limits.connectionsPerIp,
    );
    this.#http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
    this.#unsubscribe = store.subscribe((event) => this.#onStoreEvent(event));
    this.#timer = new LifecycleTimer(store, log);
  }

  /**
   * Checks `options` (any part of ServerConfig, the rest defaulted) and
   * starts a listening server; rejects with a ConfigError naming a bad option.
   */
  static async start(options: ServerOptions = {}, start: StartOptions = {}): Promise<GridServer> {
    const config = resolveServerConfig(options);
    const log = start.log ?? createLogger('taskgrid-server');
    if (config.insecure && !config.token && !config.tokens && !isLoopbackName(config.host)) {
      log.warn(
        `INSECURE: listening on ${config.host} with no token; anyone who reaches it can run code`,
      );
    }
    // 16 hex characters (64 random bits): short enough that a lease owner `<instance>/<worker id>`
    // (53 bytes) stays under Redis's 64-byte listpack value limit, so a task hash stays compact.
    const instanceId = randomBytes(8).toString('hex');
    const tenants = new Tenants(config.token, config.tokens);
    const store = start.store ?? (await openStore(config.store, instanceId, config, log, tenants));
    const server = new GridServer(config, store, instanceId, log, tenants);
    await server.dispatcher.start();
    server.#timer.start();
    server.#http.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
    await once(server.#http, 'listening');
    // Only a server that is up fires schedules (one that failed to listen never does).
    server.#scheduler.start();
    log.info(
      { url: server.url, mode: config.mode, store: store.kind, instance: instanceId },
      `taskgrid listening on ${server.url} (mode ${config.mode}, store ${store.kind})`,
    );
    return server;
  }

  /** Routes a socket upgrade to its gateway, after the origin check and the connection caps. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const path = (req.url ?? '').split('?')[0]?.replace(/\/+$/, '');
    const gateway =
      path === WORKER_PATH ? this.#gateway : path === CLIENT_PATH ? this.#clients : undefined;
    if (!gateway) {
      socket.destroy();
      return;
    }
    // The gateway checks the token next.
    const refusal = this.#guard?.refusal(req) ?? this.#limiter.admit(req, socket);
    if (refusal) refuseUpgrade(socket, refusal);
    else gateway.upgrade(req, socket, head);
  }

  /** What the store says happened, passed to whoever waits for it here. */
  #onStoreEvent(event: StoreEvent): void {
    if (event.type === 'resync') {
      this.#waiters.resync();
      this.#clients.resync();
      return;
    }
    if (event.type === 'cancelled') this.metrics.forget(event.id);
    if (event.type === 'retried') this.#service.forget(event.id);
    if (event.type === 'progress') this.#clients.progress(event.id, event.progress);
    if (event.type !== 'finished') return;
    this.#waiters.notify(event.ids, event.outcomes);
    // Outcomes come only with what this server stored: those are the ones it counts.
    if (event.outcomes) {
      this.metrics.finished(event.outcomes);
      this.#service.keepRecent(event.outcomes);
    }
    this.#clients.notify(event.ids, event.outcomes);
  }

  get url(): string {
    const address = this.#http.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.#scheme}://${host}:${address.port}`;
  }

  /** Stops taking submissions (503), hands unfinished work back, and closes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
    // Before submits are refused, so that a fire under way is stored, not dropped.
    await Promise.race([this.#scheduler.stop(), timeout]);
    this.#service.stopAccepting();
    this.#timer.stop();
    const work = (async () => {
      await this.dispatcher.close();
      await this.#gateway?.close();
      await this.#clients.close();
      this.#waiters.clear();
      this.#outcomes.stop();
      this.#unsubscribe();
      const closed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
      this.#http.closeAllConnections();
      await closed;
    })();
    await Promise.race([work, timeout]);
    await this.store.close();
  }
}
