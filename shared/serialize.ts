/**
 * The one place that writes and reads payload strings. Arguments travel as
 * JSON text of an array, results as JSON text of the return value, so a
 * client and the server agree on both by calling these.
 */

import { BINARY_MIN_CHARS, type FrameText, heldText } from './binary-frame.js';
import { BadPayloadError } from './errors.js';
import { isPlainStringBody } from './json-bytes.js';

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

/**
 * An argument list as JSON text held for a while (map()'s batches): as
 * UTF-8 bytes when large (heldText). A list of strings, numbers, booleans
 * and nulls whose long strings need no escaping is written to the bytes
 * directly, each such string copied as it is: JSON.stringify escapes a long
 * string character by character (~2.5 ms per MiB here; the copy and the
 * check, shared/json-bytes.ts, ~0.3 ms). Always the bytes of
 * `serializeArgs(args)`.
 */
export function heldArgs(args: readonly unknown[]): FrameText {
  let long = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg === 'string') long ||= arg.length >= BINARY_MIN_CHARS;
    else if (arg !== null && typeof arg !== 'number' && typeof arg !== 'boolean') {
      return heldText(serializeArgs(args)); // objects, undefined, holes: JSON.stringify's rules
    }
  }
  if (!long) return heldText(serializeArgs(args));
  // Each element's JSON text, or for a long well-formed string its text to copy between quotes.
  const pieces = args.map((arg): { raw: string } | { json: string } =>
    typeof arg === 'string' && arg.length >= BINARY_MIN_CHARS && isWellFormed(arg)
      ? { raw: arg }
      : { json: serialize(arg) },
  );
  let bytes = 1 + Math.max(0, pieces.length - 1) + 1;
  for (const piece of pieces) {
    bytes += 'raw' in piece ? Buffer.byteLength(piece.raw) + 2 : Buffer.byteLength(piece.json);
  }
  const out = Buffer.allocUnsafe(bytes);
  let at = out.write('[', 0, 'latin1');
  for (const [i, piece] of pieces.entries()) {
    if (i > 0) at += out.write(',', at, 'latin1');
    if ('raw' in piece) {
      const start = at + 1;
      at = start + out.write(piece.raw, start, 'utf8');
      if (!isPlainStringBody(out, start, at)) return heldText(serializeArgs(args));
      out[start - 1] = 0x22;
      out[at] = 0x22;
      at += 1;
    } else {
      at += out.write(piece.json, at, 'utf8');
    }
  }
  out.write(']', at, 'latin1');
  return out;
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
