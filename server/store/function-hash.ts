/**
 * The stored shape of a registered function (a Redis hash: all strings) and
 * the one pair of converters between it and FunctionRecord. Every read is
 * parsed here; a hash of the wrong shape is an error naming the field.
 */

import { HashReader } from './redis-reply.js';
import { functionRecord } from './store-records.js';
import { retryFromHash, retryToHash } from './task-hash.js';
import type { FunctionRecord } from './task-store.js';

const FN = {
  name: 'name',
  source: 'source',
  created: 'created',
  /** Absent when the function has no default timeout of its own. */
  timeout: 'timeout',
  /** Comma-separated; absent when it has none. */
  labels: 'labels',
  concurrency: 'concurrency',
  /** Absent for `default` (server/tenants.ts). */
  tenant: 'tenant',
} as const;

/** A function as Redis stores it: every field a string, absent when unset. */
export type FunctionHash = Record<string, string>;

export function functionToHash(fn: FunctionRecord): FunctionHash {
  const raw: FunctionHash = {
    [FN.name]: fn.name,
    [FN.source]: fn.source,
    [FN.created]: String(fn.created_at),
  };
  if (fn.timeout_ms !== undefined) raw[FN.timeout] = String(fn.timeout_ms);
  if (fn.retry !== undefined) Object.assign(raw, retryToHash(fn.retry));
  if (fn.labels !== undefined && fn.labels.length > 0) raw[FN.labels] = fn.labels.join(',');
  if (fn.concurrency !== undefined) raw[FN.concurrency] = String(fn.concurrency);
  if (fn.tenant !== undefined) raw[FN.tenant] = fn.tenant;
  return raw;
}

/** Undefined when the hash is empty (no such function). Throws ReplyError. */
export function functionFromHash(id: string, raw: unknown): FunctionRecord | undefined {
  const read = HashReader.of(raw, `function ${id}`);
  if (!read) return undefined;
  return functionRecord({
    id,
    name: read.text(FN.name),
    source: read.text(FN.source),
    created_at: read.int(FN.created),
    timeout_ms: read.optionalInt(FN.timeout),
    retry: retryFromHash(read),
    labels: read.optionalText(FN.labels)?.split(','),
    concurrency: read.optionalInt(FN.concurrency),
    tenant: read.optionalText(FN.tenant),
  });
}
