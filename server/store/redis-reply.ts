/**
 * Parsers for what Redis and our Lua scripts answer. Replies arrive as
 * `unknown`; each is checked here, at the Redis boundary, instead of cast, so
 * a script that answers the wrong shape fails loudly with the reason.
 */

export class ReplyError extends Error {
  constructor(what: string, raw: unknown) {
    super(`Unexpected Redis reply for ${what}: ${JSON.stringify(raw)?.slice(0, 200)}`);
    this.name = 'ReplyError';
  }
}

/** An array reply whose items are strings or integers, read as strings. */
export function stringArray(raw: unknown, what: string): string[] {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ReplyError(what, raw);
  return raw.map((item: unknown) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number') return String(item);
    if (Buffer.isBuffer(item)) return item.toString('utf8');
    throw new ReplyError(what, raw);
  });
}

/** An integer from a reply item (Lua numbers come back as integers, ids as strings). */
export function int(text: string | undefined, what: string): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(n)) throw new ReplyError(what, text);
  return n;
}

/** A flat hash reply (HGETALL): field → value. */
export function hash(raw: unknown, what: string): Record<string, string> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ReplyError(what, raw);
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(raw)) {
    if (typeof value === 'string') out[field] = value;
    else if (Buffer.isBuffer(value)) out[field] = value.toString('utf8');
    else throw new ReplyError(what, raw);
  }
  return out;
}
