/**
 * Turns anything a route throws into `{error: {code, message}}` with the
 * status from the one error table. Body-parser failures (too large, bad
 * JSON) are mapped into the same taxonomy.
 */

import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import {
  BadPayloadError,
  TaskgridError,
  TooLargeError,
  UnavailableError,
  UnknownOutcomeError,
} from '../../shared/errors.js';

interface HttpishError {
  type?: string;
  status?: number;
  limit?: number;
}

function classify(error: unknown): TaskgridError | undefined {
  if (error instanceof TaskgridError) return error;
  const e = error as HttpishError;
  if (e?.type === 'entity.too.large') {
    return new TooLargeError(`Request body is larger than the limit of ${e.limit} bytes`);
  }
  if (e?.type === 'entity.parse.failed') {
    return new BadPayloadError(`Request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new BadPayloadError((error as Error).message);
  }
  return undefined;
}

export interface ErrorReply {
  status: number;
  /** `Retry-After` for a store that did not answer (1 s). */
  retryAfter: boolean;
  body: { error: { code: string; message: string } };
}

/** The reply for anything a request failed with; an unexpected error is logged and hidden. */
export function errorReply(error: unknown, log: Logger): ErrorReply {
  const known = classify(error);
  if (known) {
    return {
      status: known.httpStatus,
      retryAfter: known instanceof UnavailableError || known instanceof UnknownOutcomeError,
      body: { error: { code: known.code, message: known.message } },
    };
  }
  log.error({ err: error }, 'unexpected error in a request');
  return {
    status: 500,
    retryAfter: false,
    body: { error: { code: 'TG_INTERNAL', message: 'Internal server error' } },
  };
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const reply = errorReply(error, log);
    if (reply.retryAfter) res.setHeader('Retry-After', '1');
    res.status(reply.status).json(reply.body);
  };
}
