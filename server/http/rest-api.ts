/**
 * The REST API, exactly as the table in README.md ("REST API") and the
 * OpenAPI document (openapi.ts) say: paths, bodies and status codes.
 * Handlers parse at the boundary and call the TaskService.
 */

import { Router } from 'express';
import { BadPayloadError } from '../../shared/errors.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { GridMetrics } from '../metrics.js';
import type { TaskStore } from '../store/task-store.js';
import { MAX_WAIT_MS, type SubmitOptions, type TaskService } from '../task-service.js';
import { callerTenant } from './auth.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { openApiDocument } from './openapi.js';
import {
  type BatchBody,
  type ExecuteBody,
  parseBatchBody,
  parseExecuteBody,
  parseRegisterBody,
} from './schemas.js';
import { parseTaskQuery } from './task-query.js';
import { workersRoute } from './workers-route.js';

function waitParam(value: unknown): number {
  if (value === undefined) return 0;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new BadPayloadError(
      `Expected \`wait\` to be a whole number of milliseconds (at most ${MAX_WAIT_MS}), got \`${String(value).slice(0, 32)}\``,
    );
  }
  return Math.min(n, MAX_WAIT_MS);
}

/** A submit body's lifecycle fields as the service takes them. */
function submitOptions(body: ExecuteBody | BatchBody): SubmitOptions {
  return {
    timeoutMs: body.timeout_ms,
    priority: body.priority,
    delayMs: body.delay_ms,
    deadlineMs: body.deadline_ms,
    retry: body.retry,
    labels: body.labels,
  };
}

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
    const body = parseExecuteBody(req.body);
    const wait = waitParam(req.query.wait);
    const { ids, stored } = await service.submit(body.function_id, [body.payload], {
      ...submitOptions(body),
      idempotencyKeys: body.idempotency_key === undefined ? undefined : [body.idempotency_key],
      tenant: callerTenant(req),
    });
    const taskId = ids[0] as string;
    const finished =
      wait > 0 ? await service.finishedWithin(taskId, wait, stored, callerTenant(req)) : undefined;
    if (finished) res.status(200).json(finished);
    else res.status(stored ? 201 : 200).json({ task_id: taskId });
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
