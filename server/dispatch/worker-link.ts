/**
 * The boundary between the socket gateway and remote dispatch, declared on
 * the dispatch side: the gateway owns sockets (upgrade, hello, heartbeats,
 * frame parsing, close codes) and hands each worker that finished its
 * handshake to a `WorkerLinkHandler` as a `WorkerLink`; dispatch owns the
 * work (what a worker holds, its credits, its pull requests).
 */

import type { CloseCode } from '../../shared/close-codes.js';
import type { WorkerMessage } from '../../shared/protocol.js';

/** One worker's socket, as dispatch sees it. */
export interface WorkerLink {
  readonly id: string;
  readonly address: string;
  readonly threads: number;
  /** Largest frame the worker takes (from its hello). */
  readonly maxFrameBytes: number;
  /** It reads binary tasks frames (shared/tasks-frame.ts); text frames otherwise. */
  readonly binaryTasks: boolean;
  /** Its labels (from its hello): it runs only tasks whose labels it all has. */
  readonly labels: readonly string[];
  /**
   * The only tenant whose tasks it may run (its token's, server/tenants.ts);
   * undefined: any tenant's.
   */
  readonly tenant?: string | undefined;
  /** When it last answered a heartbeat (ms since the epoch). */
  readonly lastHeartbeat: number;
  /** Open and not closing: a frame sent now reaches the worker. */
  readonly open: boolean;
  /** Sends one encoded frame (a Buffer goes as a binary frame); nothing once the socket closed. */
  send(frame: string | Buffer): void;
  close(code: CloseCode, reason: string): void;
}

/** What the gateway hands workers to: a remote dispatcher. */
export interface WorkerLinkHandler {
  readonly mode: 'push' | 'pull';
  /** A worker finished its handshake and was welcomed. */
  attach(link: WorkerLink): void;
  /** A parsed message from an attached worker (never a hello). */
  handle(link: WorkerLink, message: WorkerMessage): void;
  /** Its socket closed; called once, after attach. */
  detach(link: WorkerLink, reason: string): void;
}
