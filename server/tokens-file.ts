/**
 * The tokens file (`--tokens FILE`, TASKGRID_TOKENS_FILE): a JSON array of
 *
 *   {"token": "...", "tenant": "team-a", "weight": 2}      a client of a tenant
 *   {"token": "...", "role": "worker", "tenant": "team-a"} a worker for one tenant
 *   {"token": "...", "role": "worker"}                     a worker for every tenant
 *
 * Read and checked once, at startup: every problem is a ConfigError naming
 * the flag, the file, the entry and what was expected, so a server never
 * starts with a tokens file it half understood.
 */

import { readFileSync } from 'node:fs';
import { ConfigError } from '../shared/errors.js';
import { describe } from '../shared/options.js';
import { DEFAULT_TENANT, type TokenEntry } from './tenants.js';

/** Shorter tokens are refused: a guessable secret is no gate. */
export const MIN_TOKEN_LENGTH = 8;
/** Tenant names: they become metric labels and key parts, so a plain, bounded alphabet. */
const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const CLIENT_KEYS = ['token', 'tenant', 'weight', 'role'];
const WORKER_KEYS = ['token', 'tenant', 'role'];
/** Entries in one file at most: every request compares its token with each. */
const MAX_ENTRIES = 10_000;

const FLAG = '--tokens (TASKGRID_TOKENS_FILE, option `tokensFile`)';

/** Reads and checks a tokens file. Throws ConfigError naming `--tokens` and the problem. */
export function readTokensFile(path: string, singleToken: string | undefined): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${FLAG}: cannot read the tokens file ${path}: ${reason}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${FLAG}: the tokens file ${path} is not JSON: ${reason}`);
  }
  return parseTokens(value, `${FLAG}: the tokens file ${path}`, singleToken);
}

/**
 * Checks the parsed file. `where` starts every message; `singleToken`, the
 * `--token` if set, may not be listed again.
 */
export function parseTokens(
  value: unknown,
  where: string,
  singleToken: string | undefined,
): TokenEntry[] {
  if (!Array.isArray(value)) {
    throw new ConfigError(`${where} should hold a JSON array of entries, got ${kindOf(value)}`);
  }
  if (value.length === 0) throw new ConfigError(`${where} lists no tokens`);
  if (value.length > MAX_ENTRIES) {
    throw new ConfigError(`${where} lists ${value.length} entries; at most ${MAX_ENTRIES}`);
  }
  const seen = new Map<string, number>();
  const weights = new Map<string, { weight: number; at: number }>();
  return value
    .map((raw: unknown, i) => {
      const at = `${where}, entry ${i + 1}`;
      const entry = parseEntry(raw, at);
      const first = seen.get(entry.token);
      if (first !== undefined) {
        throw new ConfigError(
          `${at}: the token of entry ${first} again (each token is one identity)`,
        );
      }
      if (singleToken !== undefined && entry.token === singleToken) {
        throw new ConfigError(`${at}: the token is also the single --token (TASKGRID_TOKEN)`);
      }
      seen.set(entry.token, i + 1);
      if (entry.role === 'client' && entry.weight !== undefined) {
        const earlier = weights.get(entry.tenant);
        if (earlier && earlier.weight !== entry.weight) {
          throw new ConfigError(
            `${at}: tenant \`${entry.tenant}\` has weight ${entry.weight} here and ${earlier.weight} in entry ${earlier.at}`,
          );
        }
        weights.set(entry.tenant, { weight: entry.weight, at: i + 1 });
      }
      return entry;
    })
    .map((entry): TokenEntry => {
      if (entry.role === 'worker') return entry;
      const weight = weights.get(entry.tenant)?.weight ?? 1;
      return { role: 'client', token: entry.token, tenant: entry.tenant, weight };
    });
}

type ParsedEntry =
  | { role: 'client'; token: string; tenant: string; weight: number | undefined }
  | { role: 'worker'; token: string; tenant: string | undefined };

function parseEntry(raw: unknown, at: string): ParsedEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(
      `${at}: expected an object {token, tenant, weight?} or {token, role: "worker", tenant?}, got ${kindOf(raw)}`,
    );
  }
  const record: Record<string, unknown> = { ...raw };
  const role = record.role ?? 'client';
  if (role !== 'client' && role !== 'worker') {
    throw new ConfigError(
      `${at}: expected \`role\` to be "worker" or "client", got ${describe(role)}`,
    );
  }
  const allowed = role === 'client' ? CLIENT_KEYS : WORKER_KEYS;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      const why = key === 'weight' ? ' (weights are for client tenants)' : '';
      throw new ConfigError(
        `${at}: unknown field \`${key}\`${why}; a ${role} entry takes ${allowed.join(', ')}`,
      );
    }
  }
  const token = record.token;
  if (typeof token !== 'string') {
    throw new ConfigError(`${at}: expected \`token\` to be a string, got ${kindOf(token)}`);
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `${at}: the token is too short (${token.length} characters; at least ${MIN_TOKEN_LENGTH})`,
    );
  }
  if (/\s/.test(token)) {
    throw new ConfigError(
      `${at}: the token holds whitespace; it must fit an Authorization header as is`,
    );
  }
  const tenant = record.tenant;
  if (tenant !== undefined && (typeof tenant !== 'string' || !TENANT_NAME.test(tenant))) {
    throw new ConfigError(
      `${at}: expected \`tenant\` to be a name of letters, digits, '_', '.', '-' (1 to 64, starting with a letter or digit), got ${describe(tenant)}`,
    );
  }
  if (role === 'worker') {
    // Tasks of `default` sit in lanes with no tenant, which only workers for every tenant take.
    if (tenant === DEFAULT_TENANT) {
      throw new ConfigError(
        `${at}: a worker cannot be for the tenant \`${DEFAULT_TENANT}\` alone; leave \`tenant\` out (a worker for every tenant)`,
      );
    }
    return { role, token, tenant };
  }
  if (tenant === undefined) throw new ConfigError(`${at}: a client entry needs a \`tenant\``);
  const weight = record.weight;
  if (
    weight !== undefined &&
    (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)
  ) {
    throw new ConfigError(
      `${at}: expected \`weight\` to be a positive number, got ${describe(weight)}`,
    );
  }
  return { role, token, tenant, weight };
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : describe(value);
}
