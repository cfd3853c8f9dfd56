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

/**
 * Who a REST request (with its `authorization` header) comes from: the
 * client's tenant (undefined: `default`, or no tokens at all), or why it is
 * refused. Used by the middleware below and by fast-execute.ts.
 */
export function restCaller(
  tenants: Tenants,
  authorization: string | undefined,
): { tenant: string | undefined } | UnauthorizedError {
  if (!tenants.required) return { tenant: undefined };
  const header = authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : undefined;
  const credential = tenants.authenticate(given);
  if (!credential) return new UnauthorizedError();
  if (!credential.client) {
    return new UnauthorizedError('A worker token cannot use the REST API; use a client token');
  }
  return { tenant: credential.tenant };
}

export function bearerAuth(tenants: Tenants): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'GET' && OPEN_PATHS.has(req.path)) {
      next();
      return;
    }
    const caller = restCaller(tenants, req.headers.authorization);
    if (caller instanceof UnauthorizedError) {
      next(caller);
      return;
    }
    if (caller.tenant !== undefined) TENANT.set(req, caller.tenant);
    next();
  };
}

/** The tenant of the client that sent `req`; undefined for `default` (and with no tokens). */
export function callerTenant(req: Request): string | undefined {
  return TENANT.get(req);
}
