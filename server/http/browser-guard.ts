/**
 * What keeps a web page from driving a grid that has no token. A browser
 * lets any page send a "simple" cross-origin request (a POST of text/plain,
 * no preflight) to 127.0.0.1, and open a WebSocket anywhere; it always says
 * where the page came from in `Origin`, and puts the name it resolved in
 * `Host`. So, while no token is set:
 *
 * - a request or socket upgrade whose `Origin` is not this server's own
 *   (scheme aside, host:port as in `Host`) is refused with 403;
 * - on a loopback server, a `Host` that is not a loopback name is refused
 *   with 403: that is DNS rebinding (evil.example resolving to 127.0.0.1),
 *   where the page's Origin and Host agree and only the name gives it away.
 *
 * Non-browser clients (the SDK, the CLI, curl, workers) send no Origin and
 * pass. With a token, a page cannot forge the `Authorization` header (that
 * needs a CORS preflight, which this server never grants), so the token is
 * the gate and neither header is checked.
 *
 * Separately, every request body must be `Content-Type: application/json`
 * (415 otherwise), token or not: the API is JSON, and the content types a
 * page may send cross-origin without a preflight are exactly the others.
 */

import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { ForbiddenOriginError, UnsupportedMediaTypeError } from '../../shared/errors.js';
import { isLoopbackName } from '../../shared/transport-security.js';

/** `host[:port]` as a URL would print it (lower case, default port dropped); undefined if unparsable. */
function normalHost(scheme: string, host: string): string | undefined {
  try {
    return new URL(`${scheme}//${host}`).host;
  } catch {
    return undefined;
  }
}

/** Checks the headers of a request or upgrade from a server without a token. */
export class BrowserGuard {
  readonly #loopbackOnly: boolean;
  /**
   * Host headers seen, parsed: 15,000 workers send the same one, and its two
   * URL parses were a tenth of an upgrade's cost. Bounded: a client that
   * varies the header only misses the cache.
   */
  readonly #hosts = new Map<string, { host: string | undefined; loopback: boolean }>();

  /** `bindHost`: the address the server listens on; a loopback one also gets the Host check. */
  constructor(bindHost: string) {
    this.#loopbackOnly = isLoopbackName(bindHost);
  }

  /** Why this request must be refused, or undefined when it may proceed. */
  refusal(req: IncomingMessage): ForbiddenOriginError | undefined {
    const hostHeader = req.headers.host;
    const parsed = hostHeader === undefined ? undefined : this.#parsedHost(hostHeader);
    const host = parsed?.host;
    if (this.#loopbackOnly && hostHeader !== undefined) {
      if (!parsed?.loopback) {
        return new ForbiddenOriginError(
          `Host \`${hostHeader.slice(0, 100)}\` is not a loopback name: a grid without a token ` +
            'on 127.0.0.1 answers only to localhost, 127.0.0.1 or [::1] (this refuses DNS rebinding); ' +
            'set a token (--token) to serve other names',
        );
      }
    }
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    let originHost: string | undefined;
    try {
      const url = new URL(origin);
      if (url.protocol === 'http:' || url.protocol === 'https:') originHost = url.host;
    } catch {
      // `Origin: null` (a sandboxed page, a file) or garbage: foreign
    }
    if (originHost !== undefined && host !== undefined) {
      // The page's own origin, whatever the scheme (a TLS proxy may sit in front).
      if (originHost === host) return undefined;
      if (normalHost('https:', hostHeader as string) === originHost) return undefined;
    }
    return new ForbiddenOriginError(
      `Cross-origin request from \`${origin.slice(0, 100)}\` refused: without a token the grid ` +
        'takes requests only from its own pages and from clients that are not browsers; set a token (--token)',
    );
  }

  #parsedHost(hostHeader: string): { host: string | undefined; loopback: boolean } {
    const known = this.#hosts.get(hostHeader);
    if (known) return known;
    const host = normalHost('http:', hostHeader);
    const loopback = host !== undefined && isLoopbackName(new URL(`http://${host}`).hostname);
    if (this.#hosts.size >= 64) this.#hosts.clear();
    const parsed = { host, loopback };
    this.#hosts.set(hostHeader, parsed);
    return parsed;
  }

  /** Express middleware form of `refusal`. */
  middleware(): RequestHandler {
    return (req, _res, next) => next(this.refusal(req));
  }
}

const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why a request's body (or declared body type) is refused: 415 unless application/json. */
export function jsonBodyRefusal(req: IncomingMessage): UnsupportedMediaTypeError | undefined {
  if (NO_BODY_METHODS.has(req.method ?? '')) return undefined;
  const type = req.headers['content-type'];
  const length = req.headers['content-length'];
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (type === undefined && !hasBody) return undefined;
  const media = type?.split(';', 1)[0]?.trim().toLowerCase();
  return media === 'application/json' ? undefined : new UnsupportedMediaTypeError(type);
}

/** 415 for a state-changing request whose body (or declared body type) is not application/json. */
export function requireJsonBody(): RequestHandler {
  return (req, _res, next) => next(jsonBodyRefusal(req));
}
