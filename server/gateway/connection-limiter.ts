/**
 * Counts open sockets (/ws and /ws/client together), in total and per
 * remote address, and refuses an upgrade past either cap before a
 * WebSocket exists: 429 for one address over its share, 503 when the
 * server is full. A socket is counted from its upgrade until it closes.
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type TaskgridError, TooManyError, UnavailableError } from '../../shared/errors.js';

export class ConnectionLimiter {
  readonly #max: number;
  readonly #maxPerIp: number;
  readonly #perIp = new Map<string, number>();
  #total = 0;

  constructor(max: number, maxPerIp: number) {
    this.#max = max;
    this.#maxPerIp = maxPerIp;
  }

  get open(): number {
    return this.#total;
  }

  /** Counts the socket and returns undefined, or returns why it is refused (not counted). */
  admit(req: IncomingMessage, socket: Duplex): TaskgridError | undefined {
    const ip = req.socket.remoteAddress ?? 'unknown';
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (fromIp >= this.#maxPerIp) {
      return new TooManyError(
        `${ip} has ${fromIp} sockets open, the limit per address (--max-connections-per-ip)`,
      );
    }
    if (this.#total >= this.#max) {
      return new UnavailableError(
        `The server has ${this.#total} sockets open, its limit (--max-connections); retry later`,
      );
    }
    this.#total++;
    this.#perIp.set(ip, fromIp + 1);
    socket.once('close', () => {
      this.#total--;
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left === 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    });
    return undefined;
  }
}
