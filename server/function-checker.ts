/**
 * Runs the function-source check (function-source.ts) where it cannot stall
 * the server: small payloads inline (a few ms at most), larger ones on one
 * helper thread, started on first use and unref'd so it never keeps the
 * process alive. acorn takes ~150-250 ms per MiB of source; on the event
 * loop that would stop /healthz, long-polls and every socket meanwhile.
 */

import { Worker } from 'node:worker_threads';
import { BadPayloadError, TooManyError, UnavailableError } from '../shared/errors.js';
import type { CheckReply, CheckRequest } from './function-checker-thread.js';
import { checkFunctionSource, trimSource } from './function-source.js';

/** Up to this many UTF-16 units a payload is checked inline (worst case measured ~4 ms). */
export const INLINE_CHECK_CHARS = 16 * 1024;
/** Checks waiting for the thread at once; more answer 429 rather than pile up bodies. */
const MAX_PENDING = 64;
const THREAD_URL = new URL('./function-checker-thread.js', import.meta.url);

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FunctionChecker {
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();

  /** The source to store; rejects with BadPayloadError (400) or TooManyError (429). */
  async check(payload: string): Promise<string> {
    if (payload.length <= INLINE_CHECK_CHARS) return checkFunctionSource(payload);
    if (this.#pending.size >= MAX_PENDING) {
      throw new TooManyError(
        `More than ${MAX_PENDING} large function sources are being checked; retry shortly`,
      );
    }
    const worker = this.#thread();
    const id = this.#nextId++;
    const done = new Promise<string>((resolve, reject) =>
      this.#pending.set(id, { resolve: () => resolve(trimSource(payload)), reject }),
    );
    if (this.#pending.size === 1) worker.ref();
    worker.postMessage({ id, payload } satisfies CheckRequest);
    return done;
  }

  /** Stops the thread; pending checks reject. Idempotent. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(() => new UnavailableError('The function checker is closing'));
    await worker?.terminate();
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    // acorn's tree for 1 MiB of the densest source found is ~95 MB; past this limit the
    // thread dies, the checks in flight answer 400, and the next one starts a new thread.
    const worker = new Worker(THREAD_URL, { resourceLimits: { maxOldGenerationSizeMb: 256 } });
    worker.unref();
    worker.on('message', (reply: CheckReply) => this.#settle(reply));
    worker.on('error', (error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(() => couldNotCheck(`the checking thread failed (${error.message})`));
    });
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(() => couldNotCheck('the checking thread exited'));
    });
    this.#worker = worker;
    return worker;
  }

  #settle(reply: CheckReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (reply.error === undefined) pending.resolve();
    else pending.reject(new BadPayloadError(reply.error));
  }

  #failAll(error: () => Error): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) p.reject(error());
  }
}

function couldNotCheck(why: string): BadPayloadError {
  return new BadPayloadError(`\`payload\` could not be checked: ${why}`);
}

let shared: FunctionChecker | undefined;

/** One checker (and at most one thread) per process, whatever the number of servers in it. */
export function sharedFunctionChecker(): FunctionChecker {
  shared ??= new FunctionChecker();
  return shared;
}
