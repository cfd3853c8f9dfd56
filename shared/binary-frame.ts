/**
 * The binary frame that carries large text without JSON around it: tasks
 * (their argument text) from the server, results (their value text) from a
 * worker, each only to a peer that asked for it in its handshake. Layout:
 *
 *   uint32 BE   length of the head, in bytes
 *   head        JSON text of the message, with each item's large text left
 *               out and its length in bytes in its place
 *   texts       each left-out text as UTF-8, in the order of the head
 *
 * Why: argument and result text is JSON already. In a text frame it is
 * escaped into the frame's JSON by the sender, and walked (shape check) and
 * unescaped (JSON.parse) by the receiver: three passes over every byte that
 * carry nothing. Here it is copied once into the frame and decoded once out
 * of it. tasks-frame.ts and results-frame.ts say which field is left out.
 */

import { ProtocolError } from './errors.js';
import { jsonShapeProblem } from './json-shape.js';

const HEAD_LENGTH_BYTES = 4;

/**
 * A frame whose texts hold fewer characters than this goes as JSON text
 * even to a peer that reads binary frames: per item, the binary frame costs
 * a length and a slice more, which small texts do not pay back. Measured
 * (tasks, encode + decode per task): "[]" arguments 1.0 µs as text, 2.0 µs
 * binary; 64 KiB arguments 230 µs as text, 33 µs binary.
 */
export const BINARY_MIN_CHARS = 16 * 1024;

/**
 * Text as a holder of many texts should keep it: large text as its UTF-8
 * bytes (copied as they are into a Redis command or a binary frame, and
 * never copied by V8's collector while held), small text as it is (a
 * Buffer per tiny text is an allocation that buys nothing). node-redis, for
 * one, joins string arguments into one string before it writes them (100 x
 * 64 KiB: 20 ms a call as Buffers against 26-44 as strings).
 */
export function heldText(text: string): FrameText {
  return text.length >= BINARY_MIN_CHARS ? Buffer.from(text) : text;
}

/** Whether texts of these lengths (in characters) are worth a binary frame. */
export function worthBinary<T>(items: readonly T[], text: (item: T) => string): boolean {
  let chars = 0;
  for (const item of items) {
    chars += text(item).length;
    if (chars >= BINARY_MIN_CHARS) return true;
  }
  return false;
}

/**
 * A text as a frame carries it: a string, or its UTF-8 bytes already (a
 * sender that holds many large texts for a while keeps them as bytes: V8's
 * collector copies young strings it finds alive, never a Buffer's bytes).
 */
export type FrameText = string | Buffer;

/** A frame measured before it is built, so frames are cut to a peer's limit without building them. */
export interface BinaryFramePlan {
  /** JSON text of the head. */
  head: string;
  /** The texts, in the order of the head. */
  texts: readonly FrameText[];
  /** The whole frame's length. */
  bytes: number;
}

/** Each text's length in bytes (what the head records), and their sum. */
export function textLengths(texts: readonly FrameText[]): { lengths: number[]; total: number } {
  let total = 0;
  const lengths = texts.map((text) => {
    const length = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
    total += length;
    return length;
  });
  return { lengths, total };
}

/** `textBytes` is textLengths' total for the same texts. */
export function planBinaryFrame(
  head: unknown,
  texts: readonly FrameText[],
  textBytes: number,
): BinaryFramePlan {
  const text = JSON.stringify(head);
  return { head: text, texts, bytes: HEAD_LENGTH_BYTES + Buffer.byteLength(text) + textBytes };
}

export function encodeBinaryFrame(plan: BinaryFramePlan): Buffer {
  const frame = Buffer.allocUnsafe(plan.bytes);
  let at = HEAD_LENGTH_BYTES;
  at += frame.write(plan.head, at, 'utf8');
  frame.writeUInt32BE(at - HEAD_LENGTH_BYTES, 0);
  for (const text of plan.texts) {
    at += typeof text === 'string' ? frame.write(text, at, 'utf8') : text.copy(frame, at);
  }
  return frame;
}

/**
 * Reads a frame's head (JSON, shape-checked before parsing, not yet checked
 * against a schema) and a reader that takes the texts after it in order.
 * Throws ProtocolError naming `what`.
 */
export function decodeBinaryFrame(
  frame: Buffer,
  what: string,
): { head: unknown; texts: TextReader } {
  if (frame.length < HEAD_LENGTH_BYTES) throw new ProtocolError(`${what} frame is cut short`);
  const headEnd = HEAD_LENGTH_BYTES + frame.readUInt32BE(0);
  if (headEnd > frame.length) throw new ProtocolError(`${what} frame head is cut short`);
  const headBytes = frame.subarray(HEAD_LENGTH_BYTES, headEnd);
  const problem = jsonShapeProblem(headBytes);
  if (problem !== undefined) throw new ProtocolError(`${what} frame head refused: ${problem}`);
  let head: unknown;
  try {
    head = JSON.parse(headBytes.toString('utf8'));
  } catch {
    throw new ProtocolError(`${what} frame head is not JSON text`);
  }
  return { head, texts: new TextReader(frame, headEnd, what) };
}

/** The texts after a frame's head, taken in order by their lengths from the head. */
export class TextReader {
  readonly #frame: Buffer;
  readonly #what: string;
  #at: number;

  constructor(frame: Buffer, at: number, what: string) {
    this.#frame = frame;
    this.#at = at;
    this.#what = what;
  }

  next(bytes: number): string {
    return this.nextBytes(bytes).toString('utf8');
  }

  /** The next text's bytes, undecoded: a view of the frame, not a copy. */
  nextBytes(bytes: number): Buffer {
    const end = this.#at + bytes;
    if (end > this.#frame.length)
      throw new ProtocolError(`${this.#what} frame texts are cut short`);
    const view = this.#frame.subarray(this.#at, end);
    this.#at = end;
    return view;
  }

  /** Every byte was taken: a frame with bytes to spare is malformed. */
  end(): void {
    if (this.#at !== this.#frame.length) {
      throw new ProtocolError(`${this.#what} frame has bytes past its texts`);
    }
  }
}
