/**
 * The one place that writes and reads payload strings. Arguments travel as
 * JSON text of an array, results as JSON text of the return value, so a
 * client and the server agree on both by calling these.
 */

import { BadPayloadError } from './errors.js';

/** JSON text of a value. `undefined` (a function that returns nothing) becomes `null`. */
export function serialize(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? 'null' : text;
}

/**
 * True when the text has no lone surrogate: it can be written as UTF-8 and
 * read back by any JSON parser (Redis's cjson rejects a lone surrogate).
 */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** The value a payload string holds. */
export function deserialize(text: string): unknown {
  return JSON.parse(text);
}

/** JSON text of an argument list, for `execute_function`. */
export function serializeArgs(args: readonly unknown[]): string {
  return JSON.stringify(args);
}

/** Checks that an argument payload is JSON text of an array; returns it as is. */
export function checkArgsPayload(text: string): string {
  parseArgsPayload(text);
  return text;
}

/** The argument array an argument payload holds; throws BadPayloadError when it is not one. */
export function parseArgsPayload(text: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BadPayloadError(
      `Expected \`payload\` to be JSON text of an argument array, got text that is not JSON (${(error as Error).message})`,
    );
  }
  if (!isWellFormed(text)) {
    throw new BadPayloadError(
      'Expected `payload` to be well-formed Unicode text (it has a lone surrogate)',
    );
  }
  if (!Array.isArray(parsed)) {
    const got = parsed === null ? 'null' : typeof parsed;
    throw new BadPayloadError(
      `Expected \`payload\` to be JSON text of an argument array such as "[2]", got JSON ${got}`,
    );
  }
  return parsed;
}
