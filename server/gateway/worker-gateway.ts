/**
 * The `/ws` endpoint for workers: handshake (protocol version, token),
 * heartbeats from the server side, frame parsing and close codes. A worker
 * past its handshake is handed to the remote dispatcher as a WorkerLink, and
 * its frames as typed messages; the work it holds is dispatch's.
 *
 * Nothing large is read from a peer that has not authenticated: a token in
 * `Authorization: Bearer` is checked at the HTTP upgrade (401, no socket),
 * and until its hello is accepted a socket may send at most
 * `limits.helloBytes` (64 KiB) in all, counted on the TCP stream as it
 * arrives, whatever frame length it announces; past that it is dropped
 * (close 1009) before ws could gather a large frame. `ws` has one maxPayload
 * per server, fixed when a socket opens, hence the count on the stream.
 *
 * Only a worker's token passes (the single `--token`, or a tokens-file entry
 * with role "worker"); a client's is refused like a wrong one. A worker
 * token's tenant, if it names one, goes with the link to dispatch.
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from '../../shared/close-codes.js';
import { DEFAULT_FRAME_BYTES } from '../../shared/defaults.js';
import {
  HeartbeatError,
  ProtocolError,
  ProtocolVersionError,
  TaskgridError,
  UnauthorizedError,
} from '../../shared/errors.js';
import {
  encode,
  frameBytes,
  frameText,
  type HelloMessage,
  PROTOCOL_VERSION,
  parseWorkerMessage,
  type WorkerMessage,
} from '../../shared/protocol.js';
import { decodeResultsFrame } from '../../shared/results-frame.js';
import type { WorkerLinkHandler } from '../dispatch/worker-link.js';
import type { Credential, Tenants } from '../tenants.js';
import { ConnectionLog } from './connection-log.js';
import { refuseUpgrade } from './upgrade-refusal.js';
import { WorkerConnection } from './worker-connection.js';

export const WORKER_PATH = '/ws';
const HELLO_TIMEOUT_MS = 5000;

export interface GatewayOptions {
  handler: WorkerLinkHandler;
  /** Who may connect (tenants.ts). */
  tenants: Tenants;
  maxFrameBytes: number;
  heartbeatMs: number;
  heartbeatTolerance: number;
  /** Bytes a socket may send before its hello is accepted. */
  helloBytes: number;
  log: Logger;
}

/** The bearer token of an upgrade request, if it carries one. */
function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/** Why a credential may not connect as a worker; undefined when it may. */
function workerRefusal(credential: Credential | undefined): UnauthorizedError | undefined {
  if (!credential) return new UnauthorizedError('The worker token (--token) is wrong');
  if (!credential.worker) {
    return new UnauthorizedError(
      'A client token cannot connect as a worker; use a worker token (role "worker" in --tokens)',
    );
  }
  return undefined;
}

export class WorkerGateway {
  readonly #options: GatewayOptions;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<WorkerConnection>();
  readonly #timer: NodeJS.Timeout;
  readonly #connectionLog: ConnectionLog;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#connectionLog = new ConnectionLog(options.log);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
    this.#timer = setInterval(() => this.#heartbeat(), options.heartbeatMs);
    this.#timer.unref();
  }

  /**
   * Takes an HTTP upgrade for `/ws`. A bearer token, when sent, is checked
   * here (401 before any WebSocket); without one the hello must carry it.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { tenants } = this.#options;
    const given = bearerToken(req);
    let credential: Credential | undefined;
    if (given !== undefined || !tenants.required) {
      credential = tenants.authenticate(given);
      const refusal = workerRefusal(credential);
      if (refusal) {
        refuseUpgrade(socket, refusal);
        return;
      }
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) =>
      this.#onConnection(ws, req, socket, credential),
    );
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#connectionLog.flush();
    for (const conn of this.#connections) conn.close(CloseCode.GoingAway, 'server shutting down');
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  /** `credential`: from the upgrade's bearer token; undefined when the hello must carry it. */
  #onConnection(
    ws: WebSocket,
    req: IncomingMessage,
    socket: Duplex,
    credential: Credential | undefined,
  ): void {
    const address = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const helloTimer = setTimeout(
      () => ws.close(CloseCode.BadFrame, 'expected hello within 5 s'),
      HELLO_TIMEOUT_MS,
    );
    // Registered after ws's own data listener, so a chunk that completes the hello
    // has been handled (and `welcomed` set) before it is counted here.
    let welcomed = false;
    let received = 0;
    const limit = this.#options.helloBytes;
    const countPreHello = (chunk: Buffer) => {
      if (welcomed) return;
      received += chunk.length;
      if (received <= limit) return;
      socket.off('data', countPreHello);
      this.#options.log.warn({ address, received }, 'worker socket sent too much before hello');
      ws.close(CloseCode.TooLarge, `at most ${limit} bytes before the hello is accepted`);
      // Stop reading at once: closing politely would let ws keep gathering the frame.
      socket.destroy();
    };
    socket.on('data', countPreHello);
    ws.on('error', () => {});
    ws.once('message', (data) => {
      clearTimeout(helloTimer);
      try {
        const message = parseWorkerMessage(frameText(data));
        if (message.type !== 'hello') throw new ProtocolError('The first message must be hello');
        this.#start(ws, address, message, credential);
        welcomed = true;
        socket.off('data', countPreHello);
      } catch (error) {
        this.#reject(ws, error, address);
      }
    });
    ws.once('close', () => clearTimeout(helloTimer));
  }

  #start(
    ws: WebSocket,
    address: string,
    hello: HelloMessage,
    fromUpgrade: Credential | undefined,
  ): void {
    const { handler, tenants } = this.#options;
    if (hello.version !== PROTOCOL_VERSION) {
      throw new ProtocolVersionError(PROTOCOL_VERSION, hello.version);
    }
    const credential = fromUpgrade ?? tenants.authenticate(hello.token);
    if (!credential) {
      throw new UnauthorizedError('The worker handshake needs a worker token (--token)');
    }
    const refusal = workerRefusal(credential);
    if (refusal) throw refusal;
    const conn = new WorkerConnection(ws, {
      id: hello.worker_id ?? uuidv4(),
      address,
      threads: hello.threads,
      // A worker that does not say takes the default frame limit of older workers.
      maxFrameBytes: hello.max_frame ?? DEFAULT_FRAME_BYTES,
      binaryTasks: hello.binary_tasks === true,
      labels: hello.labels ?? [],
      tenant: credential.tenant,
    });
    this.#connections.add(conn);
    ws.on('pong', () => conn.answered());
    ws.on('message', (data, isBinary) => {
      let message: WorkerMessage;
      try {
        // Binary frames are results frames (the welcome says this server reads them).
        message = isBinary
          ? decodeResultsFrame(frameBytes(data))
          : parseWorkerMessage(frameText(data));
        if (message.type === 'hello') throw new ProtocolError('hello was already received');
      } catch (error) {
        this.#reject(ws, error, address);
        return;
      }
      handler.handle(conn, message);
    });
    ws.once('close', (code, reason) => {
      conn.closed();
      this.#connections.delete(conn);
      this.#connectionLog.disconnected({ worker: conn.id, code, reason: reason.toString() });
      handler.detach(conn, `socket closed (${code})`);
    });
    ws.send(
      encode({
        type: 'welcome',
        version: PROTOCOL_VERSION,
        worker_id: conn.id,
        mode: handler.mode,
        heartbeat_ms: this.#options.heartbeatMs,
        max_frame: this.#options.maxFrameBytes,
        binary_results: true,
      }),
    );
    this.#connectionLog.connected({ worker: conn.id, address, threads: conn.threads });
    handler.attach(conn);
  }

  #reject(ws: WebSocket, error: unknown, address: string): void {
    const code = error instanceof TaskgridError ? error.closeCode : CloseCode.BadFrame;
    const message = error instanceof Error ? error.message : String(error);
    this.#options.log.warn({ address, code, reason: message }, 'closing a worker socket');
    // Close reasons are limited to 123 bytes by the protocol.
    ws.close(code, message.slice(0, 120));
    setTimeout(() => ws.terminate(), 1000).unref();
  }

  /**
   * Pings every worker. A worker answers from its main thread, which never
   * runs tasks, so a busy worker still answers; one that misses
   * `heartbeatTolerance` pings in a row is closed (HeartbeatError, 4408) and
   * its tasks go back.
   */
  #heartbeat(): void {
    for (const conn of this.#connections) {
      if (conn.missedHeartbeats >= this.#options.heartbeatTolerance) {
        this.#options.log.warn({ worker: conn.id }, 'worker missed heartbeats; removing it');
        const error = new HeartbeatError(conn.missedHeartbeats);
        conn.close(error.closeCode, error.message);
        conn.terminate();
        continue;
      }
      conn.missedHeartbeats++;
      conn.ping();
    }
  }
}
