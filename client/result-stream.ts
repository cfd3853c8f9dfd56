/**
 * The SDK's side of `/ws/client`: one socket, subscriptions coalesced per
 * tick, each result handed to whoever waits for it. Reconnects and
 * resubscribes what is still pending. A result the server should have
 * pushed but did not (events lost in a store outage) is never waited for
 * forever: a task still pending after a while is subscribed again, which
 * makes the server read it, at growing intervals.
 */

import WebSocket from 'ws';
import { CloseCode } from '../shared/close-codes.js';
import {
  type ClientServerMessage,
  encode,
  frameText,
  parseClientServerMessage,
} from '../shared/protocol.js';

export type TaskResultMessage = Extract<ClientServerMessage, { type: 'result' }>;

interface Pending {
  resolve: (message: TaskResultMessage) => void;
  reject: (error: Error) => void;
}

/** First re-check of a pending task after this long; the interval doubles up to the cap. */
const RECHECK_FIRST_MS = 5_000;
const RECHECK_MAX_MS = 60_000;
const SWEEP_MS = 1_000;

export class ResultStream {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #pending = new Map<string, Pending[]>();
  /** When each pending task is next subscribed again, and the interval after that. */
  readonly #recheck = new Map<string, { at: number; every: number }>();
  #sweeper: NodeJS.Timeout | undefined;
  #toSubscribe: string[] = [];
  #socket: WebSocket | undefined;
  #open: Promise<WebSocket> | undefined;
  #flushScheduled = false;
  #closed = false;

  constructor(httpUrl: string, token: string | undefined) {
    this.#url = `${httpUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/ws/client`;
    this.#token = token;
  }

  /** Resolves with the task's result message once it is stored. */
  wait(taskId: string): Promise<TaskResultMessage> {
    return new Promise((resolve, reject) => {
      const list = this.#pending.get(taskId);
      if (list) {
        list.push({ resolve, reject });
        return;
      }
      this.#pending.set(taskId, [{ resolve, reject }]);
      this.#recheck.set(taskId, { at: Date.now() + RECHECK_FIRST_MS, every: RECHECK_FIRST_MS });
      this.#toSubscribe.push(taskId);
      this.#scheduleFlush();
      this.#startSweeper();
    });
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#recheck.clear();
    this.#socket?.close(CloseCode.Normal);
    for (const [, list] of this.#pending) {
      for (const p of list) p.reject(new Error('The TaskGrid client was closed'));
    }
    this.#pending.clear();
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
      for (const id of ids) this.#fail(id, error as Error);
    }
  }

  #connect(): Promise<WebSocket> {
    if (this.#open) return this.#open;
    this.#open = new Promise((resolve, reject) => {
      const headers: Record<string, string> = this.#token
        ? { authorization: `Bearer ${this.#token}` }
        : {};
      const socket = new WebSocket(this.#url, { headers });
      socket.once('open', () => {
        this.#socket = socket;
        resolve(socket);
      });
      socket.once('error', reject);
      socket.on('message', (data) => {
        // A frame this SDK cannot read closes the socket (pending tasks are
        // resubscribed on a new one); it must not throw inside ws's listener.
        try {
          this.#onMessage(parseClientServerMessage(frameText(data)));
        } catch (error) {
          socket.close(CloseCode.BadFrame, String((error as Error).message).slice(0, 120));
        }
      });
      socket.once('close', () => {
        this.#socket = undefined;
        this.#open = undefined;
        if (this.#closed || this.#pending.size === 0) return;
        // Resubscribe what is still pending on a new socket.
        this.#toSubscribe = [...this.#pending.keys()];
        setTimeout(() => this.#scheduleFlush(), 200).unref();
      });
    });
    return this.#open;
  }

  #onMessage(message: ClientServerMessage): void {
    if (message.type === 'result') {
      const list = this.#pending.get(message.task_id);
      this.#pending.delete(message.task_id);
      this.#recheck.delete(message.task_id);
      for (const p of list ?? []) p.resolve(message);
    } else if (message.type === 'unknown') {
      this.#fail(message.task_id, new Error(`No task with id ${message.task_id}`));
    }
  }

  #fail(id: string, error: Error): void {
    const list = this.#pending.get(id);
    this.#pending.delete(id);
    this.#recheck.delete(id);
    for (const p of list ?? []) p.reject(error);
  }
}
