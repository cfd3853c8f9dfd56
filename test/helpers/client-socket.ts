/**
 * A raw `/ws/client` socket for protocol tests: queues every frame the
 * server sends, for `next()` to take in order, and sends text frames or
 * binary submit_batch frames as given.
 */

import { expect } from 'chai';
import WebSocket from 'ws';
import type { SubmitBatchOutgoing } from '../../shared/protocol.js';
import { encodeSubmitBatchFrame } from '../../shared/submit-batch-frame.js';

export type Frame = Record<string, unknown>;

export class ClientSocket {
  readonly ws: WebSocket;
  readonly #frames: Frame[] = [];
  readonly #waiting: ((frame: Frame) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string) {
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/client`);
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
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

  /** The next `n` frames, each a result, keyed by task id. */
  async results(n: number): Promise<Map<string, Frame>> {
    const out = new Map<string, Frame>();
    for (let i = 0; i < n; i++) {
      const frame = await this.next();
      expect(frame.type).to.equal('result');
      out.set(frame.task_id as string, frame);
    }
    return out;
  }
}
