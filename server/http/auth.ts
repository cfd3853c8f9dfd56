/**
 * Bearer-token gate for the REST API. With a token (or a tokens file)
 * configured, every route but GET /healthz and GET / needs `Authorization:
 * Bearer <token>` of a client (tenants.ts compares in constant time); a
 * worker's token is refused here. GET / is the console page, static text
 * with no data in it: it must load without a token to ask for one, and every
 * request it then makes carries the token. The caller's tenant is kept for
 * the routes (`callerTenant`).
 */

import type { Request, RequestHandler } from 'express';
import { UnauthorizedError } from '../../shared/errors.js';
import type { Tenants } from '../tenants.js';

const OPEN_PATHS = new Set(['/healthz', '/healthz/', '/']);

/** Each authenticated request's tenant (undefined: `default`). Weak: requests are not kept alive by it. */
const TENANT = new WeakMap<Request, string>();

export function bearerAuth(tenants: Tenants): RequestHandler {
  return (req, _res, next) => {
    if (!tenants.required || (req.method === 'GET' && OPEN_PATHS.has(req.path))) {
      next();
      return;
    }
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : undefined;
    const credential = tenants.authenticate(given);
    if (!credential) {
      next(new UnauthorizedError());
      return;
    }
    if (!credential.client) {
      next(new UnauthorizedError('A worker token cannot use the REST API; use a client token'));
      return;
    }
    if (credential.tenant !== undefined) TENANT.set(req, credential.tenant);
    next();
  };
}

/** The tenant of the client that sent `req`; undefined for `default` (and with no tokens). */
export function callerTenant(req: Request): string | undefined {
  return TENANT.get(req);
}
