/** One connected worker: its socket, capacity, and the tasks it holds. */

import type { WebSocket } from 'ws';
import { creditsFor, RunTimeAverage } from '../../shared/credits.js';
import { encode, type ServerMessage } from '../../shared/protocol.js';
import type { WorkerInfo } from '../dispatch/dispatcher.js';

export class WorkerSession {
  readonly id: string;
  readonly address: string;
  readonly threads: number;
  readonly socket: WebSocket;
  readonly connectedAt = Date.now();
  lastHeartbeat = Date.now();
  missedHeartbeats = 0;
  /** Task id → attempt, for every task sent and not yet reported. */
  readonly inflight = new Map<string, number>();
  /** Functions whose source this worker already has. */
  readonly knownFunctions = new Set<string>();
  /** Pull mode: tasks asked for and not yet sent. */
  requested = 0;
  /** Pull mode: when the oldest unanswered request came (FIFO among workers). */
  requestedSince = 0;
  completed = 0;
  readonly runTime = new RunTimeAverage();
  draining = false;
  closed = false;

  constructor(id: string, address: string, threads: number, socket: WebSocket) {
    this.id = id;
    this.address = address;
    this.threads = threads;
    this.socket = socket;
  }

  /** Tasks this worker may hold (see creditsFor). */
  credits(prefetch: number): number {
    return creditsFor(this.threads, prefetch, this.runTime.value);
  }

  send(message: ServerMessage): void {
    if (!this.closed) this.socket.send(encode(message));
  }

  info(): WorkerInfo {
    return {
      id: this.id,
      address: this.address,
      threads: this.threads,
      in_flight: this.inflight.size,
      completed: this.completed,
      connected_since: new Date(this.connectedAt).toISOString(),
      last_heartbeat: new Date(this.lastHeartbeat).toISOString(),
      draining: this.draining,
    };
  }
}
