/**
 * Puts the pieces together: store, dispatcher for the chosen mode, REST API,
 * worker gateway, long-poll waiters. `GridServer.start(config)` returns a
 * listening server; `close()` drains it.
 */

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Logger } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { createLogger } from '../shared/logger.js';
import type { StatsMessage } from '../shared/protocol.js';
import { VERSION } from '../shared/version.js';
import type { DispatchContext } from './dispatch/dispatch-context.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import { FunctionCache } from './dispatch/function-cache.js';
import { LocalDispatcher } from './dispatch/local-dispatcher.js';
import { OutcomeWriter } from './dispatch/outcome-writer.js';
import { PullDispatcher } from './dispatch/pull-dispatcher.js';
import { PushDispatcher } from './dispatch/push-dispatcher.js';
import { CLIENT_PATH, ClientGateway } from './gateway/client-gateway.js';
import { ConnectionLimiter } from './gateway/connection-limiter.js';
import { refuseUpgrade } from './gateway/upgrade-refusal.js';
import { WORKER_PATH, WorkerGateway } from './gateway/worker-gateway.js';
import { bearerAuth } from './http/auth.js';
import { BrowserGuard, requireJsonBody } from './http/browser-guard.js';
import { errorHandler } from './http/error-handler.js';
import { restApi } from './http/rest-api.js';
import { GridMetrics } from './metrics.js';
import { ResultWaiters } from './result-waiters.js';
import type { ServerConfig } from './server-config.js';
import { openStore } from './store/open-store.js';
import type { TaskStore } from './store/task-store.js';
import { TaskService } from './task-service.js';

const CLOSE_TIMEOUT_MS = 10_000;
/** Client sockets carry subscribe/unsubscribe/watch only: 10,000 ids is ~400 KB. */
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
  readonly #service: TaskService;
  readonly #waiters: ResultWaiters;
  readonly #outcomes: OutcomeWriter;
  readonly #gateway: WorkerGateway | undefined;
  readonly #clients: ClientGateway;
  #lastStats: { at: number; completed: number; message: StatsMessage | undefined } = {
    at: Date.now(),
    completed: 0,
    message: undefined,
  };
  readonly #unsubscribe: () => void;
  #closing: Promise<void> | undefined;

  private constructor(config: ServerConfig, store: TaskStore, instanceId: string, log: Logger) {
    this.config = config;
    this.store = store;
    this.instanceId = instanceId;
    this.log = log;
    this.#waiters = new ResultWaiters(config.limits.parkedPolls);
    this.metrics = new GridMetrics(store, () => this.dispatcher);
    this.#unsubscribe = store.subscribe((event) => {
      if (event.type === 'resync') {
        this.#waiters.resync();
        this.#clients.resync();
        return;
      }
      if (event.type === 'cancelled') this.metrics.forget(event.id);
      if (event.type !== 'finished') return;
      this.#waiters.notify(event.ids, event.outcomes);
      // Outcomes come only with what this server stored: those are the ones it counts.
      if (event.outcomes) {
        this.metrics.finished(event.outcomes);
        this.#service.remember(event.outcomes);
      }
      this.#clients.notify(event.ids, event.outcomes);
    });
    const functions = new FunctionCache(store, config.functionCacheBytes);
    const bufferLimits = { count: config.outcomeBuffer, bytes: config.outcomeBufferBytes };
    this.#outcomes = new OutcomeWriter(store, { limits: bufferLimits, metrics: this.metrics, log });
    const ctx: DispatchContext = {
      store,
      instanceId,
      config,
      log,
      functions,
      outcomes: this.#outcomes,
      metrics: this.metrics,
    };

    let remote: PushDispatcher | PullDispatcher | undefined;
    if (config.mode === 'push') remote = new PushDispatcher(ctx);
    else if (config.mode === 'pull') remote = new PullDispatcher(ctx);
    this.dispatcher = remote ?? new LocalDispatcher(ctx);
    this.#service = new TaskService(
      store,
      this.#waiters,
      functions,
      this.dispatcher,
      config,
      this.metrics,
    );

    const app = express();
    app.disable('x-powered-by');
    app.set('strict routing', false);
    // Without a token, what a web page could send is refused first (browser-guard.ts).
    const guard = config.token === undefined ? new BrowserGuard(config.host) : undefined;
    if (guard) app.use(guard.middleware());
    app.use(bearerAuth(config.token));
    // Bodies are JSON and say so (415 otherwise): a page cannot send that cross-origin unasked.
    app.use(requireJsonBody());
    app.use(express.json({ limit: config.limits.bodyBytes, strict: false }));
    app.use(
      restApi({
        service: this.#service,
        store,
        dispatcher: this.dispatcher,
        metrics: this.metrics,
        version: VERSION,
      }),
    );
    app.use((_req, res) => {
      res.status(404).json({ error: { code: 'TG_NOT_FOUND', message: 'No such route' } });
    });
    app.use(errorHandler(log));
    this.#http = createServer(app);
    this.#http.keepAliveTimeout = 65_000;

    if (remote) {
      this.#gateway = new WorkerGateway({
        handler: remote,
        token: config.token,
        maxFrameBytes: config.limits.frameBytes,
        helloBytes: config.limits.helloBytes,
        heartbeatMs: config.heartbeatMs,
        heartbeatTolerance: config.heartbeatTolerance,
        deadlineGraceMs: config.deadlineGraceMs,
        log,
      });
    }
    this.#clients = new ClientGateway({
      store,
      token: config.token,
      maxFrameBytes: Math.min(config.limits.frameBytes, CLIENT_FRAME_BYTES),
      log,
      stats: () => this.#stats(),
    });
    const limiter = new ConnectionLimiter(
      config.limits.connections,
      config.limits.connectionsPerIp,
    );
    this.#http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      const path = (req.url ?? '').split('?')[0]?.replace(/\/+$/, '');
      const gateway =
        path === WORKER_PATH ? this.#gateway : path === CLIENT_PATH ? this.#clients : undefined;
      if (!gateway) {
        socket.destroy();
        return;
      }
      // Origin and caps before the gateway sees it; the gateway checks the token next.
      const refusal = guard?.refusal(req) ?? limiter.admit(req, socket);
      if (refusal) refuseUpgrade(socket, refusal);
      else gateway.upgrade(req, socket, head);
    });
  }

  static async start(config: ServerConfig, options: StartOptions = {}): Promise<GridServer> {
    const log = options.log ?? createLogger('taskgrid-server');
    const instanceId = uuidv4();
    const store = options.store ?? (await openStore(config.store, instanceId, config, log));
    const server = new GridServer(config, store, instanceId, log);
    await server.dispatcher.start();
    server.#http.listen(config.port, config.host);
    await once(server.#http, 'listening');
    log.info(
      { url: server.url, mode: config.mode, store: store.kind, instance: instanceId },
      `taskgrid listening on ${server.url} (mode ${config.mode}, store ${store.kind})`,
    );
    return server;
  }

  /** One stats message a second at most, however many dashboards watch. */
  async #stats(): Promise<StatsMessage> {
    const now = Date.now();
    const last = this.#lastStats;
    if (last.message && now - last.at < 900) return last.message;
    const completed = this.metrics.completedTotal;
    const latency = this.metrics.recentLatency();
    this.metrics.resetRecent();
    const message: StatsMessage = {
      type: 'stats',
      at: now,
      mode: this.config.mode,
      queue_depth: await this.store.queueDepth(),
      completed_per_s: ((completed - last.completed) * 1000) / Math.max(1, now - last.at),
      latency_p50_ms: latency.p50,
      latency_p95_ms: latency.p95,
      workers: this.dispatcher.workers().map((w) => ({
        id: w.id,
        address: w.address,
        threads: w.threads,
        in_flight: w.in_flight,
        completed: w.completed,
      })),
    };
    this.#lastStats = { at: now, completed, message };
    return message;
  }

  get url(): string {
    const address = this.#http.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  /** Stops taking submissions (503), hands unfinished work back, and closes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#service.stopAccepting();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
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
