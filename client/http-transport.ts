/**
 * The SDK's one way to make a REST call: the global fetch, or, when a
 * private CA is given, undici's fetch (the same client Node's fetch is) with
 * an agent that trusts that CA beside the system's. A TLS verification
 * failure becomes an error that says what to do, not a bare "fetch failed"
 * (which the submit retry would keep retrying).
 */

import { tlsRefusal, trustedRoots } from '../shared/transport-security.js';

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpReply {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

export type HttpTransport = (url: string, request: HttpRequest) => Promise<HttpReply>;

export function httpTransport(ca: string | undefined): HttpTransport {
  if (ca === undefined) return (url, request) => withTlsRefusal(url, () => fetch(url, request));
  // undici is loaded on the first call that needs it (most clients never give a CA).
  let client: Promise<HttpTransport> | undefined;
  const load = async (): Promise<HttpTransport> => {
    const { Agent, fetch: undiciFetch } = await import('undici');
    const dispatcher = new Agent({ connect: { ca: trustedRoots(ca) } });
    return (url, request) => undiciFetch(url, { ...request, dispatcher });
  };
  return async (url, request) => {
    client ??= load();
    const send = await client;
    return withTlsRefusal(url, () => send(url, request));
  };
}

async function withTlsRefusal(url: string, send: () => Promise<HttpReply>): Promise<HttpReply> {
  try {
    return await send();
  } catch (error) {
    const refusal = tlsRefusal((error as { cause?: unknown }).cause, url);
    throw refusal === undefined ? error : new TlsRefusedError(refusal);
  }
}

/** The server's certificate was not accepted: retrying will not help. */
export class TlsRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsRefusedError';
  }
}
