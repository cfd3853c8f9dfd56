/**
 * Bearer-token gate for the REST API. With a token configured, every route
 * but GET /healthz needs `Authorization: Bearer <token>`, compared in
 * constant time.
 */

import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../../shared/errors.js';
import { tokenMatches } from '../../shared/token.js';

const OPEN_PATHS = new Set(['/healthz', '/healthz/']);

export function bearerAuth(token: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (token === undefined || (req.method === 'GET' && OPEN_PATHS.has(req.path))) {
      next();
      return;
    }
    const header = req.headers.authorization ?? '';
    let given = header.startsWith('Bearer ') ? header.slice(7) : undefined;
    // A browser cannot send a header when it opens the dashboard: it may carry ?token=.
    if (given === undefined && req.method === 'GET' && req.path === '/') {
      const query = req.query.token;
      given = typeof query === 'string' ? query : undefined;
    }
    next(tokenMatches(token, given) ? undefined : new UnauthorizedError());
  };
}
