/**
 * GET /workers. Without `limit` or `cursor` it answers the plain array of
 * every worker, as it always has. With either it answers one page,
 * `{workers, total, next_cursor?}`, in id order: `limit` (1…1000, 100 by
 * default) workers after the one the cursor names. The cursor is opaque to
 * clients (base64url of the last id), so paging needs no state on the server.
 */

import type { Request, Response } from 'express';
import { BadPayloadError } from '../../shared/errors.js';
import type { WorkerPage } from '../../shared/worker-info.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';

export const MAX_WORKERS_PAGE = 1000;
const DEFAULT_WORKERS_PAGE = 100;
/** Worker ids are at most 64 characters; their base64url at most 4 × 64 × 4 / 3 (UTF-8). */
const MAX_CURSOR = 344;

function limitParam(value: unknown): number {
  if (value === undefined) return DEFAULT_WORKERS_PAGE;
  const n = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= MAX_WORKERS_PAGE)) {
    throw new BadPayloadError(
      `Expected \`limit\` to be a whole number from 1 to ${MAX_WORKERS_PAGE}, got \`${String(value).slice(0, 32)}\``,
    );
  }
  return n;
}

function cursorParam(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value) || value.length > MAX_CURSOR) {
    throw new BadPayloadError(
      `Expected \`cursor\` to be the \`next_cursor\` of an earlier page, got \`${String(value).slice(0, 32)}\``,
    );
  }
  return Buffer.from(value, 'base64url').toString('utf8');
}

export function workersRoute(dispatcher: Dispatcher) {
  return (req: Request, res: Response): void => {
    const { limit, cursor } = req.query;
    if (limit === undefined && cursor === undefined) {
      res.json(dispatcher.workers());
      return;
    }
    const slice = dispatcher.workersAfter(cursorParam(cursor), limitParam(limit));
    const last = slice.workers.at(-1);
    const page: WorkerPage = {
      workers: slice.workers,
      total: slice.total,
      ...(slice.more && last ? { next_cursor: Buffer.from(last.id).toString('base64url') } : {}),
    };
    res.json(page);
  };
}
