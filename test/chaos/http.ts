/**
 * REST calls for the chaos clients: every call has a deadline (a stopped
 * server must not hang a client forever) and never throws; a network error
 * or a deadline comes back as status 0 with the reason.
 */

export interface Answer {
  /** HTTP status; 0 when no answer came (refused, reset, deadline). */
  status: number;
  body: unknown;
  error?: string;
}

export async function call(
  base: string,
  token: string,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<Answer> {
  const init: RequestInit = {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  try {
    const res = await fetch(base + path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return { status: 0, body: undefined, error: e.cause?.code ?? e.name ?? String(error) };
  }
}

/** A field of an object body, if the body is an object. */
export function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null
    ? (body as Record<string, unknown>)[name]
    : undefined;
}

/** The error message of a `{error: {code, message}}` body. */
export function errorText(body: unknown): string {
  const error = field(body, 'error');
  const code = field(error, 'code');
  const message = field(error, 'message');
  return code || message ? `${String(code)} ${String(message)}` : '';
}
