/**
 * The SDK's side of `/ws/client`: one socket, subscriptions coalesced per
 * tick, each result handed to whoever waits for it. Reconnects and
 * resubscribes what is still pending. A result the server should have
 * pushed but did not (events lost in a store outage) is never waited for
 * forever: a task still pending after a while is subscribed again, which
 * makes the server read it, at growing intervals.
 *
 * Submits go on the same socket: the server answers each with the task id
 * for its ref (and has subscribed the socket to the task), so one call
 * costs one frame each way plus its result, with no HTTP request.
 */

import WebSocket from 'ws';
import { decodeResultFrame } from '../shared/client-result-frame.js';
import { CloseCode } from '../shared/close-codes.js';
import {
  BINARY_RESULTS_PARAM,
  type ClientMessage,
  type ClientServerMessage,
  encode,
  frameBytes,
  frameText,
  MAX_SUBMITS_UNDER_WAY,
  MIN_FRAME_BYTES,
  parseClientServerMessage,
  type SubmitBatchOutgoing,
  type TaskResultMessage,
} from '../shared/protocol.js';
import { encodeSubmitBatchFrame } from '../shared/submit-batch-frame.js';
import { trustedRoots } from '../shared/transport-security.js';
import { zeroMask } from '../shared/unmasked-frames.js';

export type { TaskResultMessage };

/** What a running task last reported through `progress(value, note?)`. */
export interface TaskProgress {
  /** 0…1. */
  value: number;
  note?: string;
}

/** Progress of one task as it comes; `end` once the task finished (or cannot be followed). */
export interface ProgressListener {
  update: (progress: TaskProgress) => void;
  end: () => void;
}
/** What a socket submit carries besides its ref. */
export type SubmitFields = Omit<Extract<ClientMessage, { type: 'submit' }>, 'type' | 'ref'>;

/** What a socket batch submit carries besides its ref. */
export type BatchFields = Omit<SubmitBatchOutgoing, 'type' | 'ref'>;

/** A stored task's id, and its result once stored (the socket is subscribed to it already). */
export interface Submission {
  id: string;
  result: Promise<TaskResultMessage>;
}

/** The server refused a socket submit; `code` is from the error table (shared/errors.ts). */
export class SubmitRefusedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SubmitRefusedError';
    this.code = code;
  }
}

/** The socket closed before a submit was answered: it may be stored; retry with the same key. */
export class SubmitUnansweredError extends Error {
  constructor(closeCode: number) {
    super(`The client socket closed (${closeCode}) before the submit was answered`);
    this.name = 'SubmitUnansweredError';
  }
}

interface Pending {
  resolve: (message: TaskResultMessage) => void;
  reject: (error: Error) => void;
}

type SubmitAnswer = Extract<ClientServerMessage, { type: 'submitted' | 'submitted_batch' }>;

interface PendingSubmit {
  /** Called in the answer's turn, so results in the next frame find their waiters. */
  answer: (message: SubmitAnswer) => void;
  /** The socket cannot carry it: the caller goes by REST. */
  unsent: () => void;
  reject: (error: Error) => void;
  bytes: number;
  batch: boolean;
}

/** First re-check of a pending task after this long; the interval doubles up to the cap. */
const RECHECK_FIRST_MS = 5_000;
const RECHECK_MAX_MS = 60_000;
const SWEEP_MS = 1_000;
/**
 * Larger submits go by REST: every server takes client frames this large,
 * and a big argument gains nothing from the socket. A server that takes
 * less closes with 1009, and the SDK then sends submits that large by REST.
 */
const SUBMIT_FRAME_BYTES = MIN_FRAME_BYTES;
/**
 * A batch frame is sent up to this size (the server's default limit is
 * 64 MiB, REST's body limit 10 MiB); a server that takes less closes with
 * 1009, and batches that large then go by REST.
 */
const BATCH_FRAME_BYTES = 8 * 1024 * 1024;
/**
 * A socket lost under pending waits (a server restarting) is reconnected for
 * this long (its close listener tries again every 200 ms) before they fail.
 */
const RECONNECT_MS = 30_000;

export class ResultStream {
  readonly #url: string;
  readonly #token: string | undefined;
  /** PEM of the private CA that signed a wss:// server's certificate. */
  readonly #ca: string | undefined;
  readonly #pending = new Map<string, Pending[]>();
  /** When each pending task is next subscribed again, and the interval after that. */
  readonly #recheck = new Map<string, { at: number; every: number }>();
  #sweeper: NodeJS.Timeout | undefined;
  #toSubscribe: string[] = [];
  #socket: WebSocket | undefined;
  #open: Promise<WebSocket> | undefined;
  #flushScheduled = false;
  #closed = false;
  /** Socket submits not answered yet, by ref. */
  readonly #submits = new Map<string, PendingSubmit>();
  #lastRef = 0;
  #submitFrameBytes = SUBMIT_FRAME_BYTES;
  #batchFrameBytes = BATCH_FRAME_BYTES;
  /** Set when a socket closed under pending waits, cleared when one opens: until then they wait. */
  #reconnectUntil: number | undefined;
  /** Progress listeners by task id, until the task's result comes. */
  readonly #progress = new Map<string, Set<ProgressListener>>();

  constructor(httpUrl: string, token: string | undefined, ca?: string) {
    // Large results as binary frames (client-result-frame.ts); a server that predates them
    // ignores the parameter and sends text.
    this.#url = `${httpUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/ws/client?${BINARY_RESULTS_PARAM}=1`;
    this.#token = token;
    this.#ca = ca;
  }

  /** Resolves with the task's result message once it is stored. */
  wait(taskId: string): Promise<TaskResultMessage> {
    return this.#await(taskId, true);
  }

  /**
   * Follows a task's progress until it finishes: subscribes to it (if this
   * socket is not already) and calls `listener.update` with each update the
   * server pushes, then `listener.end`. Returns a function that stops
   * following it.
   */
  onProgress(taskId: string, listener: ProgressListener): () => void {
    if (this.#closed) {
      listener.end();
      return () => {};
    }
    let set = this.#progress.get(taskId);
    if (!set) {
      set = new Set();
      this.#progress.set(taskId, set);
    }
    set.add(listener);
    // The subscription that carries the result carries progress too; its end ends the listeners.
    if (!this.#pending.has(taskId)) this.wait(taskId).catch(() => {});
    return () => {
      const listeners = this.#progress.get(taskId);
      listeners?.delete(listener);
      if (listeners?.size === 0) this.#progress.delete(taskId);
    };
  }

  /**
   * Submits a task on the socket. Resolves undefined when the socket cannot
   * carry it (too large for its frames, too many under way, no socket to be
   * had): the caller sends it by REST instead. Rejects SubmitRefusedError
   * when the server refused it, SubmitUnansweredError when the socket closed
   * before the answer.
   */
  async submit(fields: SubmitFields): Promise<Submission | undefined> {
    const ref = this.#nextRef();
    const frame = encode({ type: 'submit', ref, ...fields });
    return this.#send(ref, frame, Buffer.byteLength(frame), false, (answer) =>
      answer.type === 'submitted'
        ? { id: answer.task_id, result: this.#await(answer.task_id, false) }
        : undefined,
    );
  }

  /**
   * Submits a batch on the socket in one binary frame (all or nothing, as
   * POST /execute_batch); resolves each task's id and result, in payload
   * order, or undefined when the socket cannot carry it (as `submit`).
   */
  async submitBatch(fields: BatchFields): Promise<Submission[] | undefined> {
    const ref = this.#nextRef();
    const frame = encodeSubmitBatchFrame({ type: 'submit_batch', ref, ...fields });
    return this.#send(ref, frame, frame.length, true, (answer) =>
      answer.type === 'submitted_batch'
        ? answer.task_ids.map((id) => ({ id, result: this.#await(id, false) }))
        : undefined,
    );
  }

  #nextRef(): string {
    if (this.#closed) throw new Error('The TaskGrid client was closed');
    return String(++this.#lastRef);
  }

  /**
   * Sends a submit frame; resolves with what `take` makes of its answer, or
   * undefined when the socket cannot carry it. `take` runs in the answer's
   * turn: its waiters are registered before the next frame (a result) is read.
   */
  async #send<T>(
    ref: string,
    frame: string | Buffer,
    bytes: number,
    batch: boolean,
    take: (answer: SubmitAnswer) => T | undefined,
  ): Promise<T | undefined> {
    if (this.#submits.size >= MAX_SUBMITS_UNDER_WAY) return undefined;
    if (bytes > (batch ? this.#batchFrameBytes : this.#submitFrameBytes)) return undefined;
    let socket: WebSocket;
    try {
      socket = await this.#connect();
    } catch {
      return undefined;
    }
    // Closed since it opened: its close listener has already failed what it carried.
    if (socket.readyState !== WebSocket.OPEN) return undefined;
    return new Promise((resolve, reject) => {
      this.#submits.set(ref, {
        answer: (message) => resolve(take(message)),
        unsent: () => resolve(undefined),
        reject,
        bytes,
        batch,
      });
      socket.send(frame);
    });
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#recheck.clear();
    this.#socket?.close(CloseCode.Normal);
    const closed = new Error('The TaskGrid client was closed');
    for (const [, list] of this.#pending) {
      for (const p of list) p.reject(closed);
    }
    this.#pending.clear();
    for (const [, submit] of this.#submits) submit.reject(closed);
    this.#submits.clear();
    for (const id of [...this.#progress.keys()]) this.#endProgress(id);
  }

  /** A promise of the task's result; `subscribe` false when the server subscribed us already. */
  #await(taskId: string, subscribe: boolean): Promise<TaskResultMessage> {
    return new Promise((resolve, reject) => {
      const list = this.#pending.get(taskId);
      if (list) {
        list.push({ resolve, reject });
        return;
      }
      this.#pending.set(taskId, [{ resolve, reject }]);
      this.#recheck.set(taskId, { at: Date.now() + RECHECK_FIRST_MS, every: RECHECK_FIRST_MS });
      if (subscribe) {
        this.#toSubscribe.push(taskId);
        this.#scheduleFlush();
      }
      this.#startSweeper();
    });
  }

  #startSweeper(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.#recheckDue(), SWEEP_MS);
    this.#sweeper.unref();
  }

  #recheckDue(): void {
    const now = Date.now();
    for (const [id, next] of this.#recheck) {
      if (next.at > now) continue;
      const every = Math.min(RECHECK_MAX_MS, next.every * 2);
      this.#recheck.set(id, { at: now + every, every });
      this.#toSubscribe.push(id);
    }
    if (this.#toSubscribe.length > 0) this.#scheduleFlush();
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Every wait() of this tick goes out in one subscribe frame.
    queueMicrotask(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    const ids = this.#toSubscribe;
    this.#toSubscribe = [];
    if (ids.length === 0) return;
    try {
      const socket = await this.#connect();
      for (let i = 0; i < ids.length; i += 10_000) {
        socket.send(encode({ type: 'subscribe', ids: ids.slice(i, i + 10_000) }));
      }
    } catch (error) {
      // Lost a socket lately: the waits stay pending (the failed socket's close listener
      // subscribes them again), or one refused connection would fail a whole map().
      if (this.#reconnectUntil !== undefined && Date.now() < this.#reconnectUntil) return;
      for (const id of ids) this.#fail(id, error as Error);
    }
  }

  #connect(): Promise<WebSocket> {
    if (this.#open) return this.#open;
    this.#open = new Promise((resolve, reject) => {
      const headers: Record<string, string> = this.#token
        ? { authorization: `Bearer ${this.#token}` }
        : {};
      const socket = new WebSocket(this.#url, {
        headers,
        generateMask: zeroMask,
        ...(this.#ca === undefined ? {} : { ca: trustedRoots(this.#ca) }),
      });
      let opened = false;
      socket.once('open', () => {
        opened = true;
        this.#socket = socket;
        this.#reconnectUntil = undefined;
        resolve(socket);
      });
      socket.once('error', reject);
      socket.on('message', (data, isBinary) => {
        // A frame this SDK cannot read closes the socket (pending tasks are
        // resubscribed on a new one); it must not throw inside ws's listener.
        try {
          this.#onMessage(
            isBinary
              ? decodeResultFrame(frameBytes(data))
              : parseClientServerMessage(frameText(data)),
          );
        } catch (error) {
          socket.close(CloseCode.BadFrame, String((error as Error).message).slice(0, 120));
        }
      });
      socket.once('close', (code) => {
        this.#socket = undefined;
        this.#open = undefined;
        this.#failSubmits(code);
        if (this.#closed || this.#pending.size === 0) return;
        // Only a socket that was open is lost: a server never reached fails its waits at once.
        if (opened) this.#reconnectUntil ??= Date.now() + RECONNECT_MS;
        // Resubscribe what is still pending on a new socket. The timer holds the process
        // open as the socket did: a script awaiting results must not exit between sockets.
        this.#toSubscribe = [...this.#pending.keys()];
        setTimeout(() => this.#scheduleFlush(), 200);
      });
    });
    return this.#open;
  }

  #onMessage(message: ClientServerMessage): void {
    switch (message.type) {
      case 'result': {
        const list = this.#pending.get(message.task_id);
        this.#pending.delete(message.task_id);
        this.#recheck.delete(message.task_id);
        for (const p of list ?? []) p.resolve(message);
        this.#endProgress(message.task_id);
        return;
      }
      case 'progress': {
        const listeners = this.#progress.get(message.task_id);
        if (!listeners) return;
        const progress: TaskProgress = { value: message.value };
        if (message.note !== undefined) progress.note = message.note;
        for (const listener of listeners) callQuietly(() => listener.update(progress));
        return;
      }
      case 'unknown':
        this.#fail(message.task_id, new Error(`No task with id ${message.task_id}`));
        return;
      case 'submitted':
      case 'submitted_batch':
        this.#takeSubmit(message.ref)?.answer(message);
        return;
      case 'refused':
        this.#takeSubmit(message.ref)?.reject(
          new SubmitRefusedError(message.code, message.message),
        );
        return;
      case 'stats':
        return;
      default: {
        const never: never = message;
        throw new Error(`Unhandled server message ${JSON.stringify(never)}`);
      }
    }
  }

  #takeSubmit(ref: string): PendingSubmit | undefined {
    const submit = this.#submits.get(ref);
    this.#submits.delete(ref);
    return submit;
  }

  /**
   * The socket closed with submits unanswered: each may be stored, so each is
   * retried (same keys). A 1009 means the server takes smaller frames than
   * one we sent: submits that large go by REST from now on; a 4400 with a
   * batch under way, a server without submit_batch: batches go by REST.
   */
  #failSubmits(code: number): void {
    if (this.#submits.size === 0) return;
    const submits = [...this.#submits.values()];
    this.#submits.clear();
    if (code === CloseCode.TooLarge) {
      // The largest frame under way is the likeliest culprit: frames of its kind that large go by REST.
      const largest = submits.reduce((a, b) => (b.bytes > a.bytes ? b : a));
      if (largest.batch) this.#batchFrameBytes = Math.min(this.#batchFrameBytes, largest.bytes - 1);
      else this.#submitFrameBytes = Math.min(this.#submitFrameBytes, largest.bytes - 1);
      for (const submit of submits) submit.unsent();
      return;
    }
    if (code === CloseCode.BadFrame && submits.some((s) => s.batch)) {
      // This SDK's batch frames are well formed: a server that refuses one predates
      // submit_batch. Batches go by REST from now on; the rest is sent again as usual.
      this.#batchFrameBytes = 0;
      for (const submit of submits) submit.unsent();
      return;
    }
    for (const submit of submits) submit.reject(new SubmitUnansweredError(code));
  }

  #fail(id: string, error: Error): void {
    const list = this.#pending.get(id);
    this.#pending.delete(id);
    this.#recheck.delete(id);
    for (const p of list ?? []) p.reject(error);
    this.#endProgress(id);
  }

  #endProgress(id: string): void {
    const listeners = this.#progress.get(id);
    if (!listeners) return;
    this.#progress.delete(id);
    for (const listener of listeners) callQuietly(() => listener.end());
  }
}

/** A listener's throw is the application's; it must not close the socket or skip the others. */
function callQuietly(call: () => void): void {
  try {
    call();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
