/**
 * POST /execute_function without Express: the one route a caller waits on
 * call after call (`?wait=` makes it submit → result in one request).
 * Express's router, body parser and response helpers cost about half a
 * millisecond a request on this 2-core machine, a quarter of a one-call
 * round trip. The checks are the same functions the Express middleware
 * runs, in the same order (browser guard, bearer token, JSON-only body, body
 * limit), and the answer comes from the same executeOne and errorReply. A
 * request this path does not fully understand (another spelling of the
 * path, a charset or content encoding, no declared length) is left to
 * Express untouched: nothing of it has been read.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Logger } from 'pino';
import { BadPayloadError, TooLargeError } from '../../shared/errors.js';
import type { TaskService } from '../task-service.js';
import type { Tenants } from '../tenants.js';
import { restCaller } from './auth.js';
import { type BrowserGuard, jsonBodyRefusal } from './browser-guard.js';
import { errorReply } from './error-handler.js';
import { executeOne, type JsonReply } from './execute-one.js';

export interface FastExecuteDeps {
  service: TaskService;
  guard: BrowserGuard | undefined;
  tenants: Tenants;
  bodyBytes: number;
  log: Logger;
}

const PATHS = new Set(['/execute_function', '/execute_function/']);
const PLAIN_JSON = new Set(['application/json', 'application/json; charset=utf-8']);

/** True when this path takes the request (and answers it); false leaves it to Express. */
export type FastRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export function fastExecute(deps: FastExecuteDeps): FastRoute {
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (!PATHS.has(q < 0 ? url : url.slice(0, q))) return false;
    const h = req.headers;
    const length = Number(h['content-length']);
    const type = h['content-type']?.toLowerCase();
    if (
      !Number.isSafeInteger(length) ||
      length <= 0 ||
      h['transfer-encoding'] !== undefined ||
      h['content-encoding'] !== undefined ||
      type === undefined ||
      !PLAIN_JSON.has(type)
    ) {
      return false;
    }
    void answer(deps, req, res, length, q < 0 ? '' : url.slice(q + 1));
    return true;
  };
}

async function answer(
  deps: FastExecuteDeps,
  req: IncomingMessage,
  res: ServerResponse,
  length: number,
  query: string,
): Promise<void> {
  let reply: JsonReply & { retryAfter?: boolean };
  try {
    const refused = deps.guard?.refusal(req);
    if (refused) throw refused;
    const caller = restCaller(deps.tenants, req.headers.authorization);
    if (caller instanceof Error) throw caller;
    const mediaRefusal = jsonBodyRefusal(req);
    if (mediaRefusal) throw mediaRefusal;
    const body = await readJson(req, length, deps.bodyBytes);
    reply = await executeOne(deps.service, body, parseQuery(query).wait, caller.tenant);
  } catch (error) {
    reply = errorReply(error, deps.log);
    // A refused body may not have been read: do not leave its bytes on a kept-alive connection.
    if (!req.complete) res.shouldKeepAlive = false;
  }
  const text = JSON.stringify(reply.body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  };
  if (reply.retryAfter) headers['retry-after'] = '1';
  res.writeHead(reply.status, headers);
  res.end(text);
}

/** The body as JSON, refused (413) past `limit` bytes before more of it is read. */
function readJson(req: IncomingMessage, length: number, limit: number): Promise<unknown> {
  const tooLarge = () =>
    new TooLargeError(`Request body is larger than the limit of ${limit} bytes`);
  if (length > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    req.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got > limit) {
        req.removeAllListeners('data');
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      // As body-parser decodes it: UTF-8 without a byte-order mark.
      const text = Buffer.concat(chunks, got)
        .toString('utf8')
        .replace(/^\uFEFF/, '');
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new BadPayloadError(`Request body is not valid JSON: ${(error as Error).message}`));
      }
    });
    req.once('error', reject);
    // A client that goes away mid-body: nothing to answer, nothing to hold on to.
    req.once('close', () => {
      if (!req.complete) reject(new BadPayloadError('Request body was cut short'));
    });
  });
}
