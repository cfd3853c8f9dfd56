/**
 * The argument texts of large tasks (bulk_args, script-io.ts) this server
 * stored lately, kept until a claim here takes them: a task dispatched by
 * the server that accepted it goes to its worker without its text being
 * read back from Redis (64 KiB arguments: the server's CPU per task
 * 395–398 → 335–340 µs, Redis's 115 → 98). A bulk text never changes once
 * stored (a task with references, whose text the dependency steps rewrite,
 * is never bulk), so a held copy is always the stored one; a task claimed
 * elsewhere, cancelled or not stored leaves its text here until it is
 * pushed out, oldest first, past the memory bound.
 *
 * The bound counts what is really kept alive: a text that is a view of a
 * larger buffer (a socket batch's payloads are views of its frame) keeps
 * that whole buffer, counted once however many of its views are held.
 */

import type { FrameText } from '../../shared/binary-frame.js';

/** Memory the held texts may keep alive, by default. */
export const HELD_BULK_ARGS_BYTES = 32 * 1024 * 1024;

export class HeldBulkArgs {
  readonly #maxBytes: number;
  /** By task id, oldest first (a Map keeps insertion order). */
  readonly #texts = new Map<string, FrameText>();
  /** Buffers kept alive by held views, and how many views hold each. */
  readonly #buffers = new Map<ArrayBufferLike, number>();
  #bytes = 0;

  constructor(maxBytes = HELD_BULK_ARGS_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Memory the held texts keep alive now. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#texts.size;
  }

  add(id: string, text: FrameText): void {
    this.drop(id);
    const cost = this.#retain(text);
    if (cost > this.#maxBytes) {
      this.#release(text);
      return;
    }
    this.#texts.set(id, text);
    for (const [oldest] of this.#texts) {
      if (this.#bytes <= this.#maxBytes) break;
      this.drop(oldest);
    }
  }

  /** The task's text as a string, once: it is no longer held after. */
  take(id: string): string | undefined {
    const text = this.#texts.get(id);
    if (text === undefined) return undefined;
    this.drop(id);
    return typeof text === 'string' ? text : text.toString('utf8');
  }

  drop(id: string): void {
    const text = this.#texts.get(id);
    if (text === undefined) return;
    this.#texts.delete(id);
    this.#release(text);
  }

  /** What holding `text` adds to the bound: a string's UTF-16 size, or its buffer's whole size when first held. */
  #retain(text: FrameText): number {
    if (typeof text === 'string') {
      this.#bytes += text.length * 2;
      return text.length * 2;
    }
    const views = this.#buffers.get(text.buffer) ?? 0;
    this.#buffers.set(text.buffer, views + 1);
    if (views === 0) this.#bytes += text.buffer.byteLength;
    return text.buffer.byteLength;
  }

  #release(text: FrameText): void {
    if (typeof text === 'string') {
      this.#bytes -= text.length * 2;
      return;
    }
    const views = this.#buffers.get(text.buffer) ?? 0;
    if (views > 1) {
      this.#buffers.set(text.buffer, views - 1);
      return;
    }
    this.#buffers.delete(text.buffer);
    this.#bytes -= text.buffer.byteLength;
  }
}
