/**
 * The `/ws` endpoint for workers: handshake (protocol version, token),
 * heartbeats from the server side, and frame parsing. Everything past the
 * handshake is handed to the remote dispatcher as typed messages.
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import {
  ProtocolError,
  ProtocolVersionError,
  TaskgridError,
  UnauthorizedError,
} from '../../shared/errors.js';
import {
  encode,
  type HelloMessage,
  PROTOCOL_VERSION,
  parseWorkerMessage,
  type WorkerMessage,
} from '../../shared/protocol.js';
import { tokenMatches } from '../../shared/token.js';
import { WorkerSession } from './worker-session.js';

export const WORKER_PATH = '/ws';
const HELLO_TIMEOUT_MS = 5000;
/** What workers took before they said: ws's default maxPayload in worker-client. */
const DEFAULT_WORKER_FRAME_BYTES = 64 * 1024 * 1024;

/** What the gateway needs from a remote dispatcher. */
export interface SessionHandler {
  readonly mode: 'push' | 'pull';
  attach(session: WorkerSession): void;
  handle(session: WorkerSession, message: WorkerMessage): void;
  detach(session: WorkerSession, reason: string): void;
}

export interface GatewayOptions {
  handler: SessionHandler;
  token: string | undefined;
  maxFrameBytes: number;
  heartbeatMs: number;
  heartbeatTolerance: number;
  deadlineGraceMs: number;
  log: Logger;
}

export function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

export class WorkerGateway {
  readonly #options: GatewayOptions;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<WorkerSession>();
  readonly #timer: NodeJS.Timeout;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
    this.#timer = setInterval(() => this.#heartbeat(), options.heartbeatMs);
    this.#timer.unref();
  }

  /** Takes an HTTP upgrade for `/ws`. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req));
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const session of this.#sessions) session.socket.close(1001, 'server shutting down');
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    const address = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const helloTimer = setTimeout(
      () => ws.close(4400, 'expected hello within 5 s'),
      HELLO_TIMEOUT_MS,
    );
    ws.on('error', () => {});
    ws.once('message', (data) => {
      clearTimeout(helloTimer);
      try {
        const message = parseWorkerMessage(rawText(data));
        if (message.type !== 'hello') throw new ProtocolError('The first message must be hello');
        this.#start(ws, address, message);
      } catch (error) {
        this.#reject(ws, error, address);
      }
    });
    ws.once('close', () => clearTimeout(helloTimer));
  }

  #start(ws: WebSocket, address: string, hello: HelloMessage): void {
    const { handler, token, log } = this.#options;
    if (hello.version !== PROTOCOL_VERSION) {
      throw new ProtocolVersionError(PROTOCOL_VERSION, hello.version);
    }
    if (token !== undefined && !tokenMatches(token, hello.token)) {
      throw new UnauthorizedError('The worker handshake needs the server token (--token)');
    }
    const session = new WorkerSession({
      id: hello.worker_id ?? uuidv4(),
      address,
      threads: hello.threads,
      socket: ws,
      // A worker that does not say takes the default frame limit of older workers.
      maxFrameBytes: hello.max_frame ?? DEFAULT_WORKER_FRAME_BYTES,
      deadlineGraceMs: this.#options.deadlineGraceMs,
    });
    this.#sessions.add(session);
    ws.on('pong', () => {
      session.lastHeartbeat = Date.now();
      session.missedHeartbeats = 0;
    });
    ws.on('message', (data) => {
      let message: WorkerMessage;
      try {
        message = parseWorkerMessage(rawText(data));
        if (message.type === 'hello') throw new ProtocolError('hello was already received');
      } catch (error) {
        this.#reject(ws, error, address);
        return;
      }
      handler.handle(session, message);
    });
    ws.once('close', (code, reason) => {
      session.closed = true;
      this.#sessions.delete(session);
      log.info({ worker: session.id, code, reason: reason.toString() }, 'worker disconnected');
      handler.detach(session, `socket closed (${code})`);
    });
    ws.send(
      encode({
        type: 'welcome',
        version: PROTOCOL_VERSION,
        worker_id: session.id,
        mode: handler.mode,
        heartbeat_ms: this.#options.heartbeatMs,
        max_frame: this.#options.maxFrameBytes,
      }),
    );
    log.info({ worker: session.id, address, threads: session.threads }, 'worker connected');
    handler.attach(session);
  }

  #reject(ws: WebSocket, error: unknown, address: string): void {
    const code = error instanceof TaskgridError ? error.closeCode : 4400;
    const message = error instanceof Error ? error.message : String(error);
    this.#options.log.warn({ address, code, reason: message }, 'closing a worker socket');
    // Close reasons are limited to 123 bytes by the protocol.
    ws.close(code, message.slice(0, 120));
    setTimeout(() => ws.terminate(), 1000).unref();
  }

  /**
   * Pings every worker. A worker answers from its main thread, which never
   * runs tasks, so a busy worker still answers; one that misses
   * `heartbeatTolerance` pings in a row is closed (4408) and its tasks go back.
   */
  #heartbeat(): void {
    for (const session of this.#sessions) {
      if (session.missedHeartbeats >= this.#options.heartbeatTolerance) {
        this.#options.log.warn({ worker: session.id }, 'worker missed heartbeats; removing it');
        session.socket.close(4408, 'missed heartbeats');
        session.socket.terminate();
        continue;
      }
      session.missedHeartbeats++;
      session.socket.ping();
    }
  }
}
