/**
 * GET /tasks's query string, checked at the boundary: every problem is a 400
 * that names the parameter.
 */

import { validate as isUuid } from 'uuid';
import { BadPayloadError } from '../../shared/errors.js';
import { TASK_PAGE_LIMIT } from '../../shared/task-info.js';
import { TASK_STATUSES } from '../../shared/types.js';
import { badCursor, CURSOR_SHAPE } from '../store/list-cursor.js';
import type { TaskQuery } from '../store/task-store.js';

/** One definition with the SDK's check and the OpenAPI parameter (shared/task-info.ts). */
export const TASKS_LIMIT = TASK_PAGE_LIMIT;

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new BadPayloadError(`Expected one \`${name}\` parameter, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function parseTaskQuery(query: Record<string, unknown>): TaskQuery {
  const status = single(query, 'status');
  const functionId = single(query, 'function_id');
  const limit = single(query, 'limit');
  const cursor = single(query, 'cursor');
  const out: TaskQuery = { limit: TASKS_LIMIT.default };
  if (status !== undefined) {
    const known = TASK_STATUSES.find((s) => s === status);
    if (!known) {
      throw new BadPayloadError(
        `Expected \`status\` to be one of ${TASK_STATUSES.join(', ')}, got \`${status.slice(0, 32)}\``,
      );
    }
    out.status = known;
  }
  if (functionId !== undefined) {
    if (!isUuid(functionId)) {
      throw new BadPayloadError(
        `Expected \`function_id\` to be a UUID, got \`${functionId.slice(0, 64)}\``,
      );
    }
    out.function_id = functionId;
  }
  if (limit !== undefined) {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : Number.NaN;
    if (!(n >= 1 && n <= TASKS_LIMIT.max)) {
      throw new BadPayloadError(
        `Expected \`limit\` to be a whole number from 1 to ${TASKS_LIMIT.max}, got \`${limit.slice(0, 32)}\``,
      );
    }
    out.limit = n;
  }
  if (cursor !== undefined) {
    if (!CURSOR_SHAPE.test(cursor)) throw badCursor(cursor);
    out.cursor = cursor;
  }
  return out;
}
