/**
 * JSON text checked and written as UTF-8 bytes, for argument lists whose
 * bulk is long strings. Neither V8 path is cheap there: JSON.stringify
 * escapes a long string character by character (~2.5 ms per MiB here), and
 * checking bytes with JSON.parse first decodes them to a string, which for
 * large texts the collector then carries (1 MiB arguments: over half the
 * server's CPU went to the decode, the parse and the collector). Here a
 * string's bytes are checked for the only bytes JSON treats specially inside
 * a string: `"` and `\` at memchr speed (Buffer#indexOf), the control
 * characters four bytes at a time.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Strings up to this long are scanned byte by byte: a native call or a view costs more. */
const INLINE_BYTES = 64;
/** A text nested deeper is left to JSON.parse (which then says what it finds). */
const MAX_DEPTH = 64;

/** Whether a byte after a backslash makes one of JSON's short escapes (\" \\ \/ \b \f \n \r \t). */
function shortEscape(byte: number | undefined): boolean {
  return (
    byte === QUOTE ||
    byte === BACKSLASH ||
    byte === 0x2f ||
    byte === 0x62 ||
    byte === 0x66 ||
    byte === 0x6e ||
    byte === 0x72 ||
    byte === 0x74
  );
}

/** Whether a control byte (below 0x20, which JSON strings may not hold raw) is in `from` up to `to`. */
function hasControlByte(bytes: Uint8Array, from: number, to: number): boolean {
  let i = from;
  // Up to a 4-byte boundary of the underlying buffer, then four words at a time.
  const aligned = Math.min(to, i + ((4 - ((bytes.byteOffset + i) & 3)) & 3));
  for (; i < aligned; i++) if ((bytes[i] as number) < 0x20) return true;
  const count = (to - i) >>> 2;
  if (count >= 4) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, count);
    let k = 0;
    for (; k + 4 <= count; k += 4) {
      const a = words[k] as number;
      const b = words[k + 1] as number;
      const c = words[k + 2] as number;
      const d = words[k + 3] as number;
      // A byte below 0x20 in any of them (exact as to whether one has one; the bytes say which).
      const low =
        ((a - 0x20202020) & ~a) |
        ((b - 0x20202020) & ~b) |
        ((c - 0x20202020) & ~c) |
        ((d - 0x20202020) & ~d);
      if ((low & 0x80808080) !== 0) break;
    }
    i += k * 4;
  }
  for (; i < to; i++) if ((bytes[i] as number) < 0x20) return true;
  return false;
}

/**
 * Whether `from` up to `to` holds text that is its own JSON string body: no
 * `"`, no `\\`, no control byte (what JSON.stringify writes as it is, for
 * well-formed text).
 */
export function isPlainStringBody(bytes: Buffer, from: number, to: number): boolean {
  const span = bytes.subarray(from, to);
  return span.indexOf(QUOTE) < 0 && span.indexOf(BACKSLASH) < 0 && !hasControlByte(bytes, from, to);
}

/** Index past the string whose opening quote is just before `at`; -1 when this check cannot vouch for it. */
function stringEnd(bytes: Buffer, at: number): number {
  const n = bytes.length;
  let i = at;
  // Short strings (keys, ids, small values) byte by byte.
  const inlineEnd = Math.min(n, at + INLINE_BYTES);
  while (i < inlineEnd) {
    const byte = bytes[i] as number;
    if (byte === QUOTE) return i + 1;
    if (byte === BACKSLASH) {
      // \u goes to JSON.parse: the only way to write a lone surrogate, or `$task` in disguise.
      if (!shortEscape(bytes[i + 1])) return -1;
      i += 2;
    } else if (byte < 0x20) {
      return -1;
    } else {
      i++;
    }
  }
  // Long: the next quote at memchr speed, then the span before it.
  for (;;) {
    const quote = bytes.indexOf(QUOTE, i);
    if (quote < 0) return -1;
    const backslash = bytes.subarray(i, quote).indexOf(BACKSLASH);
    const end = backslash < 0 ? quote : i + backslash;
    if (hasControlByte(bytes, i, end)) return -1;
    if (backslash < 0) return quote + 1;
    if (!shortEscape(bytes[end + 1])) return -1;
    i = end + 2;
  }
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x39;
}

/** Index past the number that starts at `at`; -1 when it is not JSON's grammar. */
function numberEnd(bytes: Uint8Array, at: number): number {
  let i = at;
  if (bytes[i] === 0x2d) i++;
  if (bytes[i] === 0x30) i++;
  else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
  else return -1;
  if (bytes[i] === 0x2e) {
    i++;
    if (!isDigit(bytes[i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
    if (!isDigit(bytes[i])) return -1;
    while (isDigit(bytes[i])) i++;
  }
  return i;
}

const LITERALS = [Buffer.from('true'), Buffer.from('false'), Buffer.from('null')];

function literalEnd(bytes: Buffer, at: number): number {
  for (const literal of LITERALS) {
    const end = at + literal.length;
    if (end <= bytes.length && bytes.compare(literal, 0, literal.length, at, end) === 0) {
      return end;
    }
  }
  return -1;
}

function skipSpace(bytes: Uint8Array, at: number): number {
  let i = at;
  for (;;) {
    const byte = bytes[i];
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return i;
    i++;
  }
}

/**
 * True when `bytes` (already known to be UTF-8) is JSON text of an array
 * that holds no task reference and no lone surrogate, vouched for without
 * decoding it: what JSON.parse accepts, with these left to JSON.parse
 * instead (false here means "parse it", not "invalid"): any `\u` escape
 * (the only way to write a lone surrogate, or `$task` in disguise), the text
 * `$task` anywhere (a reference is an element `{"$task": id}`), nesting
 * deeper than MAX_DEPTH.
 */
export function isPlainJsonArray(bytes: Buffer): boolean {
  if (bytes.indexOf('$task') >= 0) return false;
  const n = bytes.length;
  // Per open container: true for an object. `expect` is what may come next.
  const open: boolean[] = [];
  let i = skipSpace(bytes, 0);
  if (bytes[i] !== 0x5b) return false;
  let expect: 'value' | 'key' | 'after' = 'value';
  let first = true; // just after an opening bracket: it may close at once
  while (i < n) {
    i = skipSpace(bytes, i);
    const byte = bytes[i];
    if (byte === undefined) return false;
    if (expect === 'after') {
      const inObject = open[open.length - 1];
      if (inObject === undefined) return false; // something after the closing bracket
      if (byte === 0x2c) {
        expect = inObject ? 'key' : 'value';
        i++;
        continue;
      }
      if (byte !== (inObject ? 0x7d : 0x5d)) return false;
      open.pop();
      i++;
      if (open.length === 0) return skipSpace(bytes, i) === n;
      continue;
    }
    if (first && (byte === 0x5d || byte === 0x7d)) {
      // An empty array or object.
      if (byte !== (open[open.length - 1] ? 0x7d : 0x5d)) return false;
      first = false;
      expect = 'after';
      continue;
    }
    first = false;
    if (expect === 'key') {
      if (byte !== QUOTE) return false;
      i = stringEnd(bytes, i + 1);
      if (i < 0) return false;
      i = skipSpace(bytes, i);
      if (bytes[i] !== 0x3a) return false;
      i++;
      expect = 'value';
      continue;
    }
    // A value.
    if (byte === 0x5b || byte === 0x7b) {
      if (open.length >= MAX_DEPTH) return false;
      open.push(byte === 0x7b);
      i++;
      expect = byte === 0x7b ? 'key' : 'value';
      first = true;
      continue;
    }
    if (byte === QUOTE) i = stringEnd(bytes, i + 1);
    else if (byte === 0x2d || isDigit(byte)) i = numberEnd(bytes, i);
    else i = literalEnd(bytes, i);
    if (i < 0) return false;
    expect = 'after';
  }
  return false;
}
