/**
 * One worker's socket after its hello was accepted: what it said about
 * itself, its heartbeats, and sending and closing. What it holds and may
 * still take is dispatch's (worker-session.ts).
 */

import type { WebSocket } from 'ws';
import type { CloseCode } from '../../shared/close-codes.js';
import type { WorkerLink } from '../dispatch/worker-link.js';

export interface ConnectionOptions {
  id: string;
  address: string;
  threads: number;
  /** Largest frame the worker takes (from its hello). */
  maxFrameBytes: number;
  /** It reads binary tasks frames (from its hello). */
  binaryTasks: boolean;
  /** What it can run (from its hello): a task runs only where all its labels are. */
  labels: readonly string[];
  /** The only tenant whose tasks it runs (its token's); undefined: any. */
  tenant: string | undefined;
}

export class WorkerConnection implements WorkerLink {
  readonly id: string;
  readonly address: string;
  readonly threads: number;
  readonly maxFrameBytes: number;
  readonly binaryTasks: boolean;
  readonly labels: readonly string[];
  readonly tenant: string | undefined;
  lastHeartbeat = Date.now();
  /** Pings sent since the last answer. */
  missedHeartbeats = 0;
  readonly #socket: WebSocket;
  #closed = false;

  constructor(socket: WebSocket, options: ConnectionOptions) {
    this.#socket = socket;
    this.id = options.id;
    this.address = options.address;
    this.threads = options.threads;
    this.maxFrameBytes = options.maxFrameBytes;
    this.binaryTasks = options.binaryTasks;
    this.labels = options.labels;
    this.tenant = options.tenant;
  }

  get open(): boolean {
    return !this.#closed && this.#socket.readyState === this.#socket.OPEN;
  }

  send(frame: string | Buffer): void {
    if (!this.#closed) this.#socket.send(frame);
  }

  close(code: CloseCode, reason: string): void {
    this.#socket.close(code, reason);
  }

  /** The socket closed: nothing is sent on it any more. */
  closed(): void {
    this.#closed = true;
  }

  ping(): void {
    this.#socket.ping();
  }

  /** A pong came: the worker is alive. */
  answered(): void {
    this.lastHeartbeat = Date.now();
    this.missedHeartbeats = 0;
  }

  terminate(): void {
    this.#socket.terminate();
  }
}
