/**
 * Worker connects and disconnects in the server's log: one line each while
 * they come a few a second, and one line a second with their counts when
 * they come in crowds. A reconnect storm of 10,000 workers would otherwise
 * be 10,000 lines, each a synchronous write on the event loop that is
 * accepting those same sockets.
 */

import type { Logger } from 'pino';

/** Lines a second before the log sums up instead. */
const LINES_PER_SECOND = 20;

export class ConnectionLog {
  readonly #log: Logger;
  readonly #now: () => number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #lines = 0;
  #connected = 0;
  #disconnected = 0;
  #summary: NodeJS.Timeout | undefined;

  /** `now` is Date.now unless a test fixes the clock. */
  constructor(log: Logger, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  connected(fields: Record<string, unknown>): void {
    if (this.#take()) this.#log.info(fields, 'worker connected');
    else this.#connected++;
  }

  disconnected(fields: Record<string, unknown>): void {
    if (this.#take()) this.#log.info(fields, 'worker disconnected');
    else this.#disconnected++;
  }

  /** Logs what was only counted, if anything; call on shutdown too. */
  flush(): void {
    clearTimeout(this.#summary);
    this.#summary = undefined;
    if (this.#connected === 0 && this.#disconnected === 0) return;
    this.#log.info(
      { connected: this.#connected, disconnected: this.#disconnected },
      'workers connected and disconnected (too many to log one by one)',
    );
    this.#connected = 0;
    this.#disconnected = 0;
  }

  #take(): boolean {
    const now = this.#now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#lines = 0;
    }
    if (++this.#lines <= LINES_PER_SECOND) return true;
    // The first line over the budget sets when the counts are written.
    this.#summary ??= setTimeout(() => this.flush(), 1000).unref();
    return false;
  }
}
