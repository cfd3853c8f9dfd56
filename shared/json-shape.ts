/**
 * A look at a frame's JSON text before JSON.parse, in one pass over its
 * bytes: how deep it nests and how many values it holds. JSON.parse costs
 * time and memory per value, not per byte: 4 MB of `[[[[…]]]]` is two
 * million arrays and took ~0.5 s of the event loop plus the GC after it,
 * and 64 MiB of `[0,0,…]` is 32 million numbers. No protocol message nests
 * deeper than a few levels, and the largest allowed (100,000 results) has
 * under a million values, so frames past these bounds are refused unparsed.
 *
 * Strings, where the bulk of a legitimate frame lives (arguments, results),
 * are skipped with Buffer#indexOf (memchr speed) once they are long; short
 * ones byte by byte, which is cheaper than a native call.
 */

/** Deeper than any protocol message (object → array → object is 3). */
export const MAX_FRAME_DEPTH = 32;
/** Above the largest schema-valid frame: 100,000 results of ~7 values each. */
export const MAX_FRAME_VALUES = 1 << 20;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Bytes of a string scanned inline before handing the rest to indexOf. */
const INLINE_STRING_BYTES = 64;

/** Index just past the string whose opening quote is at `start - 1`; `bytes.length` when unterminated. */
function skipString(bytes: Buffer, start: number): number {
  const n = bytes.length;
  let i = start;
  for (;;) {
    // Inline: a short string (keys, ids, statuses) ends within a few bytes.
    const inlineEnd = Math.min(n, i + INLINE_STRING_BYTES);
    while (i < inlineEnd) {
      const c = bytes[i] as number;
      if (c === QUOTE) return i + 1;
      i += c === BACKSLASH ? 2 : 1;
    }
    if (i >= n) return n;
    // Long: jump to the next quote, then see whether an odd run of backslashes escapes it.
    // `i` never stops inside an escape pair, so the run before the quote starts at or after it.
    const q = bytes.indexOf(QUOTE, i);
    if (q < 0) return n;
    let k = q - 1;
    while (k >= i && bytes[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    // Escaped: back to the inline loop, which bounds native calls to one per 64 bytes.
    i = q + 1;
  }
}

/** Why this JSON text is refused before parsing, or undefined when its shape is within bounds. */
export function jsonShapeProblem(
  bytes: Buffer,
  maxDepth = MAX_FRAME_DEPTH,
  maxValues = MAX_FRAME_VALUES,
): string | undefined {
  const n = bytes.length;
  let depth = 0;
  let values = 0;
  let i = 0;
  while (i < n) {
    const c = bytes[i] as number;
    if (c === QUOTE) {
      i = skipString(bytes, i + 1);
      continue;
    }
    i++;
    if (c === 0x5b || c === 0x7b) {
      // [ or {
      if (++depth > maxDepth) return `it nests deeper than ${maxDepth} levels`;
      if (++values > maxValues) return `it holds more than ${maxValues} values`;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c && ++values > maxValues) {
      // each further element or member follows a comma
      return `it holds more than ${maxValues} values`;
    }
  }
  return undefined;
}
