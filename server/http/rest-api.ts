/**
 * The REST API, exactly as the table in README.md ("REST API") and the
 * OpenAPI document (openapi.ts) say: paths, bodies and status codes.
 * Handlers parse at the boundary and call the TaskService.
 */

import { Router } from 'express';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { GridMetrics } from '../metrics.js';
import type { TaskStore } from '../store/task-store.js';
import type { TaskService } from '../task-service.js';
import { callerTenant } from './auth.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { executeOne, submitOptions, waitParam } from './execute-one.js';
import { openApiDocument } from './openapi.js';
import { parseBatchBody, parseRegisterBody } from './schemas.js';
import { parseTaskQuery } from './task-query.js';
import { workersRoute } from './workers-route.js';

export interface RestDeps {
  service: TaskService;
  store: TaskStore;
  dispatcher: Dispatcher;
  metrics: GridMetrics;
  version: string;
}

export function restApi({ service, store, dispatcher, metrics, version }: RestDeps): Router {
  // Non-strict routing: every path also answers with a trailing slash.
  const router = Router({ strict: false });

  router.post('/register_function', async (req, res) => {
    const body = parseRegisterBody(req.body);
    const functionId = await service.register(body.name, body.payload, {
      timeoutMs: body.timeout_ms,
      retry: body.retry,
      labels: body.labels,
      concurrency: body.concurrency,
      tenant: callerTenant(req),
    });
    res.status(201).json({ function_id: functionId });
  });

  // `?wait=<ms>`: one request from submit to result. A task that finishes within the wait is
  // answered 200 with its GET /result body; otherwise (or for a repeat that has not finished)
  // the answer is what it is without the wait.
  router.post('/execute_function', async (req, res) => {
    const reply = await executeOne(service, req.body, req.query.wait, callerTenant(req));
    res.status(reply.status).json(reply.body);
  });

  router.post('/execute_batch', async (req, res) => {
    const body = parseBatchBody(req.body);
    const { ids, stored } = await service.submit(body.function_id, body.payloads, {
      ...submitOptions(body),
      idempotencyKeys: body.idempotency_keys,
      tenant: callerTenant(req),
    });
    res.status(stored ? 201 : 200).json({ task_ids: ids });
  });

  router.get('/functions', async (req, res) => {
    res.json({ functions: await service.functions(callerTenant(req)) });
  });

  router.get('/function/:function_id', async (req, res) => {
    res.json(await service.function(req.params.function_id, callerTenant(req)));
  });

  router.delete('/function/:function_id', async (req, res) => {
    const cancelled = await service.deleteFunction(req.params.function_id, callerTenant(req));
    res.json({ function_id: req.params.function_id, cancelled });
  });

  router.get('/task/:task_id', async (req, res) => {
    res.json(await service.task(req.params.task_id, callerTenant(req)));
  });

  router.get('/tasks', async (req, res) => {
    res.json(await service.tasks({ ...parseTaskQuery(req.query), tenant: callerTenant(req) }));
  });

  router.post('/task/:task_id/retry', async (req, res) => {
    res.json(await service.retry(req.params.task_id, callerTenant(req)));
  });

  router.get('/status/:task_id', async (req, res) => {
    res.json(await service.status(req.params.task_id, callerTenant(req)));
  });

  router.get('/result/:task_id', async (req, res) => {
    res.json(
      await service.result(req.params.task_id, waitParam(req.query.wait), callerTenant(req)),
    );
  });

  router.delete('/task/:task_id', async (req, res) => {
    res.json(await service.cancel(req.params.task_id, callerTenant(req)));
  });

  router.get('/workers', workersRoute(dispatcher));

  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });

  const openapi = JSON.stringify(openApiDocument(version));
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openapi);
  });

  router.get('/', (_req, res) => {
    res.type('html').send(DASHBOARD_HTML);
  });

  router.get('/healthz', async (_req, res) => {
    try {
      await store.ping();
      const depth = await store.queueDepth();
      res.json({ status: 'ok', store: store.kind, mode: dispatcher.mode, queue_depth: depth });
    } catch (error) {
      res
        .status(503)
        .json({ status: 'unavailable', store: store.kind, error: (error as Error).message });
    }
  });

  return router;
}
