/**
 * A raw `/ws/client` socket for protocol tests: queues every frame the
 * server sends, for `next()` to take in order, and sends text frames or
 * binary submit_batch frames as given.
 */

import { expect } from 'chai';
import WebSocket from 'ws';
import { decodeResultFrame } from '../../shared/client-result-frame.js';
import {
  BINARY_RESULTS_PARAM,
  frameBytes,
  type SubmitBatchOutgoing,
} from '../../shared/protocol.js';
import { encodeSubmitBatchFrame } from '../../shared/submit-batch-frame.js';

export type Frame = Record<string, unknown>;

export class ClientSocket {
  readonly ws: WebSocket;
  readonly #frames: Frame[] = [];
  readonly #waiting: ((frame: Frame) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  /** `binaryResults`: ask for large results as binary frames (they are queued with `binary: true`). */
  constructor(url: string, token?: string, options: { binaryResults?: boolean } = {}) {
    const query = options.binaryResults ? `?${BINARY_RESULTS_PARAM}=1` : '';
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/client${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data, isBinary) => {
      const frame: Frame = isBinary
        ? { ...decodeResultFrame(frameBytes(data)), binary: true }
        : (JSON.parse(String(data)) as Frame);
      const waiter = this.#waiting.shift();
      if (waiter) waiter(frame);
      else this.#frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  async open(): Promise<this> {
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    return this;
  }

  /** A text frame: a string as it is, anything else as its JSON. */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** A binary submit_batch frame. */
  batch(message: Omit<SubmitBatchOutgoing, 'type'>): void {
    this.ws.send(encodeSubmitBatchFrame({ type: 'submit_batch', ...message }));
  }

  next(): Promise<Frame> {
    const frame = this.#frames.shift();
    if (frame) return Promise.resolve(frame);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** The next frame that is not a result (answers and refusals), results kept aside. */
  async answer(results?: Frame[]): Promise<Frame> {
    for (;;) {
      const frame = await this.next();
      if (frame.type !== 'result') return frame;
      results?.push(frame);
    }
  }

  /** Frames until `n` results came, results keyed by task id (other frames fail the test). */
  async results(n: number, already: Frame[] = []): Promise<Map<string, Frame>> {
    const out = new Map<string, Frame>();
    for (const frame of already) out.set(frame.task_id as string, frame);
    while (out.size < n) {
      const frame = await this.next();
      expect(frame.type, JSON.stringify(frame)).to.equal('result');
      expect(out.has(frame.task_id as string), 'a result twice').to.equal(false);
      out.set(frame.task_id as string, frame);
    }
    return out;
  }
}

/** A binary frame laid out by hand: head length, head JSON, then raw bytes. */
export function rawFrame(head: unknown, tail: Buffer, headLength?: number): Buffer {
  const text = Buffer.from(JSON.stringify(head));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(headLength ?? text.length);
  return Buffer.concat([length, text, tail]);
}
