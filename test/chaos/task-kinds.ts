/**
 * The kinds of task the chaos load submits. Each kind is one registered
 * function whose result names the task's nonce, so the checker verifies the
 * result itself (the right value for the right task), not only a status.
 */

import { isDeepStrictEqual } from 'node:util';
import { Prng } from './prng.js';

export const KIND_NAMES = [
  'noop',
  'cpu',
  'sleep',
  'big',
  'throw',
  'throwNull',
  'timeout',
  'cancel',
  'lone',
] as const;
export type KindName = (typeof KIND_NAMES)[number];

/** What a task of a kind must end with. */
export type Expectation =
  | { status: 'COMPLETED'; value: unknown }
  | { status: 'FAILED'; name?: string; message?: string; notNames?: readonly string[] }
  | { status: 'CANCELLED' }
  | { anyOf: readonly Expectation[] };

/** Errors that mean the grid, not the task, decided the outcome. */
const GRID_ERRORS = ['TimeoutError', 'WorkerLostError'] as const;

/** Parameters drawn at plan time; the arguments are built from them at submit time. */
export type Params = readonly number[];

export interface KindSpec {
  readonly name: KindName;
  /** Source text registered once per run. */
  readonly source: string;
  /** The function's own timeout (register `timeout_ms`). */
  readonly fnTimeoutMs: number;
  /** Takes a thread for a second or more (or a megabyte): counted against the load's cap. */
  readonly long: boolean;
  params(prng: Prng, leaseMs: number): Params;
  args(nonce: string, params: Params): unknown[];
  expect(nonce: string, params: Params): Expectation;
}

const FAIL_NAMES = ['Error', 'TypeError', 'RangeError'] as const;

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** About 1 MB of text from a seed: a seeded 997-char chunk, repeated (cheap to build). */
export function bigText(seed: number, length: number): string {
  const prng = new Prng(seed);
  let chunk = '';
  for (let i = 0; i < 997; i++) chunk += String.fromCharCode(97 + prng.int(0, 25));
  return chunk.repeat(Math.ceil(length / chunk.length)).slice(0, length);
}

/** The checksum the `big` task computes; the same loop as its source. */
function bigSum(text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i += 4096) sum += text.charCodeAt(i);
  return sum;
}

const p = (n: Params, i: number): number => n[i] ?? 0;

export const KINDS: Record<KindName, KindSpec> = {
  noop: {
    name: 'noop',
    source: 'function noop(nonce) { return nonce; }',
    fnTimeoutMs: 5000,
    long: false,
    params: () => [],
    args: (nonce) => [nonce],
    expect: (nonce) => ({ status: 'COMPLETED', value: nonce }),
  },
  cpu: {
    name: 'cpu',
    source:
      'function cpu(nonce, n) { const fib = (k) => (k < 2 ? k : fib(k - 1) + fib(k - 2)); return [nonce, fib(n)]; }',
    fnTimeoutMs: 5000,
    long: false,
    params: (prng) => [prng.int(18, 25)],
    args: (nonce, params) => [nonce, p(params, 0)],
    expect: (nonce, params) => ({ status: 'COMPLETED', value: [nonce, fib(p(params, 0))] }),
  },
  sleep: {
    name: 'sleep',
    source:
      'async function sleep(nonce, ms) { await new Promise((r) => setTimeout(r, ms)); return nonce; }',
    fnTimeoutMs: 8000,
    long: true,
    // Longer than a lease: the lease must be renewed while it runs.
    params: (prng, leaseMs) => [prng.int(leaseMs + 200, leaseMs + 2000)],
    args: (nonce, params) => [nonce, p(params, 0)],
    expect: (nonce) => ({ status: 'COMPLETED', value: nonce }),
  },
  big: {
    name: 'big',
    source:
      'function big(nonce, text) { let sum = 0; for (let i = 0; i < text.length; i += 4096) sum += text.charCodeAt(i); return [nonce, text.length, sum]; }',
    fnTimeoutMs: 5000,
    long: true,
    // Just under the 1 MiB argument limit once JSON-encoded with the nonce.
    params: (prng) => [prng.int(1, 2 ** 30), prng.int(900_000, 1_000_000)],
    args: (nonce, params) => [nonce, bigText(p(params, 0), p(params, 1))],
    expect: (nonce, params) => {
      const text = bigText(p(params, 0), p(params, 1));
      return { status: 'COMPLETED', value: [nonce, text.length, bigSum(text)] };
    },
  },
  throw: {
    name: 'throw',
    source:
      'function fail(nonce, name) { const E = { Error, TypeError, RangeError }[name]; throw new E("chaos " + nonce); }',
    fnTimeoutMs: 5000,
    long: false,
    params: (prng) => [prng.int(0, FAIL_NAMES.length - 1)],
    args: (nonce, params) => [nonce, FAIL_NAMES[p(params, 0)]],
    expect: (nonce, params) => ({
      status: 'FAILED',
      name: FAIL_NAMES[p(params, 0)] as string,
      message: `chaos ${nonce}`,
    }),
  },
  throwNull: {
    name: 'throwNull',
    // Not an Error, and not even an Object.prototype object.
    source: 'function failOdd(nonce) { throw Object.create(null); }',
    fnTimeoutMs: 5000,
    long: false,
    params: () => [],
    args: (nonce) => [nonce],
    expect: () => ({ status: 'FAILED', notNames: GRID_ERRORS }),
  },
  timeout: {
    name: 'timeout',
    source:
      'async function hang(nonce) { await new Promise((r) => setTimeout(r, 600000)); return nonce; }',
    fnTimeoutMs: 1500,
    long: true,
    // 0: the function's own timeout; else a submit `timeout_ms`.
    params: (prng) => [prng.chance(0.5) ? 0 : prng.int(800, 2500)],
    args: (nonce) => [nonce],
    expect: () => ({ status: 'FAILED', name: 'TimeoutError' }),
  },
  cancel: {
    name: 'cancel',
    source:
      'async function nap(nonce, ms) { await new Promise((r) => setTimeout(r, ms)); return nonce; }',
    fnTimeoutMs: 8000,
    long: true,
    params: (prng) => [prng.int(1500, 4000)],
    args: (nonce, params) => [nonce, p(params, 0)],
    // Refined by the DELETE's answer (see load.ts).
    expect: (nonce) => ({ status: 'COMPLETED', value: nonce }),
  },
  lone: {
    name: 'lone',
    // A lone surrogate in a legitimate result: stored as is, or failed clearly.
    source: "function lone(nonce) { return [nonce, '\\ud800']; }",
    fnTimeoutMs: 5000,
    long: false,
    params: () => [],
    args: (nonce) => [nonce],
    expect: (nonce) => ({
      anyOf: [
        { status: 'COMPLETED', value: [nonce, '\ud800'] },
        { status: 'FAILED', notNames: GRID_ERRORS },
      ],
    }),
  },
};

/** The effective timeout of a task: the submit's, else the function's. */
export function effectiveTimeout(kind: KindName, params: Params): number {
  if (kind === 'timeout' && p(params, 0) > 0) return p(params, 0);
  return KINDS[kind].fnTimeoutMs;
}

interface ErrorShape {
  name?: unknown;
  message?: unknown;
}

function parseJson(text: string | undefined): { ok: true; value: unknown } | { ok: false } {
  if (text === undefined) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Undefined when `status` and `result` meet the expectation, else why not. */
export function mismatch(
  expected: Expectation,
  status: string,
  result: string | undefined,
): string | undefined {
  if ('anyOf' in expected) {
    const reasons = expected.anyOf.map((e) => mismatch(e, status, result));
    return reasons.includes(undefined) ? undefined : reasons.join('; or ');
  }
  if (status !== expected.status) return `expected ${describe(expected)}, got ${status}`;
  if (expected.status === 'CANCELLED') return undefined;
  const parsed = parseJson(result);
  if (!parsed.ok) return `expected ${describe(expected)}, got a result that is not JSON text`;
  if (expected.status === 'COMPLETED') {
    return isDeepStrictEqual(parsed.value, expected.value)
      ? undefined
      : `expected ${describe(expected)}, got ${short(result)}`;
  }
  const error = (parsed.value ?? {}) as ErrorShape;
  if (expected.name !== undefined && error.name !== expected.name)
    return `expected ${describe(expected)}, got ${String(error.name)}: ${String(error.message)}`;
  if (expected.message !== undefined && error.message !== expected.message)
    return `expected ${describe(expected)}, got message ${JSON.stringify(error.message)}`;
  if (expected.notNames?.includes(String(error.name)))
    return `expected ${describe(expected)}, got ${String(error.name)}: ${String(error.message)}`;
  return undefined;
}

export function describe(expected: Expectation): string {
  if ('anyOf' in expected) return expected.anyOf.map(describe).join(' or ');
  if (expected.status === 'COMPLETED') return `COMPLETED ${short(JSON.stringify(expected.value))}`;
  if (expected.status === 'CANCELLED') return 'CANCELLED';
  const name = expected.name ?? (expected.notNames ? `not ${expected.notNames.join('/')}` : 'any');
  return `FAILED ${name}${expected.message ? ` "${expected.message}"` : ''}`;
}

export function short(text: string | undefined, max = 160): string {
  if (text === undefined) return '(none)';
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}
