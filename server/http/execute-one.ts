/**
 * POST /execute_function, whichever way the request came in: through the
 * Express routes (rest-api.ts) or the fast path that skips Express for this
 * one hot route (fast-execute.ts). One body check, one submit, one answer.
 */

import { BadPayloadError } from '../../shared/errors.js';
import { MAX_WAIT_MS, type SubmitOptions, type TaskService } from '../task-service.js';
import { type BatchBody, type ExecuteBody, parseExecuteBody } from './schemas.js';

export function waitParam(value: unknown): number {
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
export function submitOptions(body: ExecuteBody | BatchBody): SubmitOptions {
  return {
    timeoutMs: body.timeout_ms,
    priority: body.priority,
    delayMs: body.delay_ms,
    deadlineMs: body.deadline_ms,
    retry: body.retry,
    labels: body.labels,
  };
}

export interface JsonReply {
  status: number;
  body: unknown;
}

/**
 * `?wait=<ms>`: one request from submit to result. A task that finishes within the wait is
 * answered 200 with its GET /result body; otherwise (or for a repeat that has not finished)
 * the answer is what it is without the wait: 201 with the id, 200 for a repeat.
 */
export async function executeOne(
  service: TaskService,
  rawBody: unknown,
  wait: unknown,
  tenant: string | undefined,
): Promise<JsonReply> {
  const body = parseExecuteBody(rawBody);
  const waitMs = waitParam(wait);
  const { ids, stored } = await service.submit(body.function_id, [body.payload], {
    ...submitOptions(body),
    idempotencyKeys: body.idempotency_key === undefined ? undefined : [body.idempotency_key],
    tenant,
  });
  const taskId = ids[0] as string;
  const finished =
    waitMs > 0 ? await service.finishedWithin(taskId, waitMs, stored, tenant) : undefined;
  if (finished) return { status: 200, body: finished };
  return { status: stored ? 201 : 200, body: { task_id: taskId } };
}
