/**
 * Option checks with one message shape, used by the CLI and the
 * programmatic constructors: what was expected, and what came.
 */

import { ConfigError } from './errors.js';

function describe(value: unknown): string {
  return `\`${String(value)}\` (${typeof value})`;
}

/** Parses an integer option given as text or number; `min` bounds it below. */
export function intOption(
  name: string,
  value: unknown,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(`Expected \`${name}\` to be an integer ${range}, got ${describe(value)}`);
  }
  return n;
}

export function choiceOption<T extends string>(
  name: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value))
    return value as T;
  throw new ConfigError(
    `Expected \`${name}\` to be one of ${choices.map((c) => `\`${c}\``).join(', ')}, got ${describe(value)}`,
  );
}

export function urlOption(name: string, value: unknown, protocols: readonly string[]): string {
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      if (protocols.includes(url.protocol)) return value;
    } catch {
      // fall through to the error below
    }
  }
  throw new ConfigError(
    `Expected \`${name}\` to be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}, got ${describe(value)}`,
  );
}
