/**
 * POST /execute_function first meets the fast path (fast-execute.ts), which
 * runs the same checks without Express; everything else meets the Express
 * app, in this order: the browser guard
 * (without a token), the bearer token, the JSON-only body rule and its size
 * limit, the REST routes, then one error handler for every failure,
 * unknown routes included.
 */

import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { NotFoundError } from '../../shared/errors.js';
import { VERSION } from '../../shared/version.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { GridMetrics } from '../metrics.js';
import type { ScheduleService } from '../schedules/schedule-service.js';
import type { ServerConfig } from '../server-config.js';
import type { TaskStore } from '../store/task-store.js';
import type { TaskService } from '../task-service.js';
import type { Tenants } from '../tenants.js';
import { bearerAuth } from './auth.js';
import { type BrowserGuard, requireJsonBody } from './browser-guard.js';
import { errorHandler } from './error-handler.js';
import { fastExecute } from './fast-execute.js';
import { restApi } from './rest-api.js';
import { schedulesApi } from './schedules-api.js';

export interface HttpAppDeps {
  config: ServerConfig;
  /** Set when there is no token (browser-guard.ts). */
  guard: BrowserGuard | undefined;
  service: TaskService;
  store: TaskStore;
  dispatcher: Dispatcher;
  metrics: GridMetrics;
  schedules: ScheduleService;
  log: Logger;
  /** Who may call, and for which tenant (tenants.ts). */
  tenants: Tenants;
}

/** The request listener: the fast path for POST /execute_function (fast-execute.ts), else Express. */
export function createHttpHandler(deps: HttpAppDeps): RequestListener {
  const app = createHttpApp(deps);
  const fast = fastExecute({
    service: deps.service,
    guard: deps.guard,
    tenants: deps.tenants,
    bodyBytes: deps.config.limits.bodyBytes,
    log: deps.log,
  });
  return (req, res) => {
    if (!fast(req, res)) app(req, res);
  };
}

function createHttpApp(deps: HttpAppDeps): Express {
  const { guard, service, store, dispatcher, metrics, schedules, log, tenants } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Task replies change as tasks run and are never asked for conditionally: hashing every body
  // for an ETag was ~1% of the server's CPU under one-call REST load.
  app.set('etag', false);
  app.set('strict routing', false);
  // Without a token, what a web page could send is refused first (browser-guard.ts).
  if (guard) app.use(guard.middleware());
  app.use(bearerAuth(tenants));
  // Bodies are JSON and say so (415 otherwise): a page cannot send that cross-origin unasked.
  app.use(requireJsonBody());
  app.use(express.json({ limit: deps.config.limits.bodyBytes, strict: false }));
  app.use(restApi({ service, store, dispatcher, metrics, version: VERSION }));
  app.use(schedulesApi(schedules));
  app.use((_req, _res, next) => next(new NotFoundError('No such route')));
  app.use(errorHandler(log));
  return app;
}
