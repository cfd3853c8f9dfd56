/**
 * `/ws/client`: clients subscribe to task ids and are sent each result the
 * moment it is stored (at once when it already is), so the SDK never polls.
 * A client may also `submit` a task here, which subscribes it to the task:
 * one socket carries a call from submit to result; or a batch, in a binary
 * `submit_batch` frame whose argument texts are raw bytes (the SDK's
 * `map()`). Dashboards `watch` and get a stats message every second.
 *
 * A socket belongs to its client token's tenant: it submits for it, and a
 * subscription to another tenant's task is answered `unknown`, as one to no
 * task. A subscription is unverified until the store's record says whose the
 * task is, and nothing is delivered to it before then: its own read delivers,
 * or, for a result stored while that read was under way, a read issued then.
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { encodeResultFrame } from '../../shared/client-result-frame.js';
import { CloseCode } from '../../shared/close-codes.js';
import { TaskgridError, TooManyError, UnauthorizedError } from '../../shared/errors.js';
import {
  BINARY_RESULTS_PARAM,
  type ClientMessage,
  type ClientServerMessage,
  encode,
  frameBytes,
  frameText,
  MAX_SUBMITS_UNDER_WAY,
  parseClientMessage,
  type StatsMessage,
  type SubmitBatchMessage,
} from '../../shared/protocol.js';
import { decodeSubmitBatchFrame } from '../../shared/submit-batch-frame.js';
import { isTerminal, type TaskOutcome } from '../../shared/types.js';
import type { Progress, TaskRecord, TaskStore } from '../store/task-store.js';
import type { Submitted, TaskService } from '../task-service.js';
import type { Tenants } from '../tenants.js';
import { refuseUpgrade } from './upgrade-refusal.js';

export const CLIENT_PATH = '/ws/client';
const MAX_SUBSCRIPTIONS = 100_000;
const STATS_MS = 1000;
/** Tasks read per store round trip. */
const READ_CHUNK = 500;
/** A read the store could not answer is tried again after this long, while anyone waits. */
const READ_RETRY_MS = 500;

export interface ClientGatewayOptions {
  store: TaskStore;
  /** Who may connect, and for which tenant (tenants.ts). */
  tenants: Tenants;
  maxFrameBytes: number;
  log: Logger;
  stats: () => Promise<StatsMessage>;
  /** Stores what a client submits, with the checks and answers of POST /execute_function. */
  submit: TaskService['submit'];
}

type SubmitMessage = Extract<ClientMessage, { type: 'submit' }>;

class ClientConnection {
  readonly ws: WebSocket;
  /** Its token's tenant; undefined: `default`. */
  readonly tenant: string | undefined;
  readonly ids = new Set<string>();
  /** Subscribed ids whose task's tenant is not known yet: nothing is sent for them. */
  readonly unverified = new Set<string>();
  watching = false;
  /** Submits stored or refused but not answered yet. */
  submitting = 0;
  /** The last submit_batch's turn: batches are stored one after another, in the order sent. */
  batches: Promise<void> = Promise.resolve();
  /**
   * The socket is being closed for a frame it sent (malformed, or over a
   * limit): nothing after that frame is read or stored (ws goes on emitting
   * the frames sent right behind it until the socket is closed); the
   * batches before it are stored and answered, then it closes.
   */
  refused = false;
  closed = false;
  /** It asked for large results as binary frames (`?binary_results=1`: client-result-frame.ts). */
  readonly binaryResults: boolean;
  constructor(ws: WebSocket, tenant: string | undefined, binaryResults: boolean) {
    this.ws = ws;
    this.tenant = tenant;
    this.binaryResults = binaryResults;
  }
  send(message: ClientServerMessage): void {
    const binary =
      this.binaryResults && message.type === 'result' ? encodeResultFrame(message) : undefined;
    this.sendEncoded(binary ?? encode(message));
  }
  sendEncoded(frame: string | Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(frame);
  }
}

/** The token from `Authorization: Bearer …` or, for browsers, `?token=…`. */
export function requestToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7);
  const query = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
  return query ?? undefined;
}

export class ClientGateway {
  readonly #options: ClientGatewayOptions;
  readonly #wss: WebSocketServer;
  readonly #subscribers = new Map<string, Set<ClientConnection>>();
  readonly #connections = new Set<ClientConnection>();
  readonly #timer: NodeJS.Timeout;
  /** Ids whose read failed, read again on a timer. */
  #toRetry = new Set<string>();
  #retry: NodeJS.Timeout | undefined;

  constructor(options: ClientGatewayOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
    this.#timer = setInterval(() => void this.#broadcastStats(), STATS_MS);
    this.#timer.unref();
  }

  /**
   * Takes an HTTP upgrade for `/ws/client`; the token (header or `?token=`)
   * is checked here, so no frame is read from a peer without it. Origin and
   * connection caps were checked by the server before (browser-guard.ts).
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const credential = this.#options.tenants.authenticate(requestToken(req));
    if (!credential?.client) {
      const message = credential ? 'A worker token cannot connect as a client' : undefined;
      refuseUpgrade(socket, new UnauthorizedError(message));
      return;
    }
    const binaryResults =
      new URL(req.url ?? '/', 'http://x').searchParams.get(BINARY_RESULTS_PARAM) === '1';
    this.#wss.handleUpgrade(req, socket, head, (ws) =>
      this.#onConnection(ws, credential.tenant, binaryResults),
    );
  }

  /** Called with every finished event; outcomes are present for what this server stored. */
  notify(ids: readonly string[], outcomes: readonly TaskOutcome[] | undefined): void {
    if (this.#subscribers.size === 0) return;
    const toRead: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      if (!this.#subscribers.has(id)) continue;
      const outcome = outcomes?.[i]?.id === id ? outcomes[i] : undefined;
      if (outcome) this.#deliver(id, outcomeMessage(outcome));
      // Left subscribed: unverified ones (#deliver passes them over). Their read under way
      // may have been answered before this result was stored, and would then deliver
      // nothing: a read issued now sees it, verifies them and delivers.
      if (!outcome || this.#subscribers.has(id)) toRead.push(id);
    }
    if (toRead.length > 0) void this.#readAndDeliver(toRead);
  }

  /**
   * A task's progress was stored (here or on another server): its
   * subscribers are sent it and stay subscribed for the result. It comes
   * throttled per task by whichever server stored it.
   */
  progress(id: string, progress: Progress): void {
    const set = this.#subscribers.get(id);
    if (!set) return;
    const message: ClientServerMessage = { type: 'progress', task_id: id, value: progress.value };
    if (progress.note !== undefined) message.note = progress.note;
    // Encoded once for every subscriber; none whose read has not yet said the task is its
    // tenant's (another tenant's socket that named this id must learn nothing of it).
    const frame = encode(message);
    for (const conn of set) if (!conn.unverified.has(id)) conn.sendEncoded(frame);
  }

  /** Events may have been missed: read every subscribed task again. */
  resync(): void {
    if (this.#subscribers.size > 0) void this.#readAndDeliver([...this.#subscribers.keys()]);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    clearTimeout(this.#retry);
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #onConnection(ws: WebSocket, tenant: string | undefined, binaryResults: boolean): void {
    const conn = new ClientConnection(ws, tenant, binaryResults);
    this.#connections.add(conn);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (conn.refused) return;
      try {
        if (isBinary) {
          // Checked at once (a malformed one closes the socket before anything behind it is
          // read), stored in its turn. Its payloads stay views of the frame's bytes: held
          // strings of that size are what V8's young-generation collector spends its time on.
          const batch = decodeSubmitBatchFrame(frameBytes(data));
          // A failure here is a bug: logged, and the batches behind it still get their turn.
          conn.batches = conn.batches
            .then(() => this.#submitBatch(conn, batch))
            .catch((error: unknown) =>
              this.#options.log.error({ err: error }, 'unexpected error in a socket batch'),
            );
          return;
        }
        const message = parseClientMessage(frameText(data));
        switch (message.type) {
          case 'subscribe':
            this.#subscribe(conn, message.ids);
            return;
          case 'unsubscribe':
            for (const id of message.ids) this.#unsubscribe(conn, id);
            return;
          case 'watch':
            conn.watching = true;
            void this.#sendStats([conn]);
            return;
          case 'submit':
            void this.#submit(conn, message);
            return;
          default: {
            const never: never = message;
            throw new Error(`Unhandled client message ${JSON.stringify(never)}`);
          }
        }
      } catch (error) {
        const code = error instanceof TaskgridError ? error.closeCode : CloseCode.BadFrame;
        this.#refuse(conn, code, (error as Error).message);
      }
    });
    ws.once('close', () => {
      conn.closed = true;
      this.#connections.delete(conn);
      for (const id of conn.ids) this.#unsubscribe(conn, id);
    });
  }

  #subscribe(conn: ClientConnection, ids: readonly string[]): void {
    if (conn.ids.size + ids.length > MAX_SUBSCRIPTIONS) {
      this.#refuse(
        conn,
        CloseCode.TooMany,
        `at most ${MAX_SUBSCRIPTIONS} subscriptions per socket`,
      );
      return;
    }
    // Subscribe first, then read: a result stored in between is not missed. Unverified
    // until that read says the task is this socket's tenant's; a subscription already
    // verified (the SDK re-checks the tasks it still waits for) stays so.
    for (const id of ids) {
      const verified = conn.ids.has(id) && !conn.unverified.has(id);
      this.#add(conn, id);
      if (!verified) conn.unverified.add(id);
    }
    void this.#readAndDeliver(ids, conn);
  }

  #add(conn: ClientConnection, id: string): void {
    conn.ids.add(id);
    let set = this.#subscribers.get(id);
    if (!set) {
      set = new Set();
      this.#subscribers.set(id, set);
    }
    set.add(conn);
  }

  /**
   * Stores a task for a client, answers `submitted`, and subscribes the
   * socket to it, so its result follows on the same socket. A task this call
   * stored cannot have finished before the answer (its outcome needs a
   * worker's message, a later event): it is subscribed without a store read.
   * A repeated idempotency key's task may have finished: it is read as a
   * subscribe reads. A refusal answers the ref and leaves the socket open.
   */
  async #submit(conn: ClientConnection, message: SubmitMessage): Promise<void> {
    const key = message.idempotency_key;
    const keys = key === undefined ? undefined : [key];
    const submitted = await this.#store(conn, message, [message.payload], keys);
    if (!submitted) return;
    const id = submitted.ids[0] as string;
    conn.send({ type: 'submitted', ref: message.ref, task_id: id });
    // A socket gone meanwhile has nobody to deliver to (and its subscriptions were dropped).
    if (conn.closed) return;
    // A task this call stored is the socket's tenant's: no need to verify it.
    if (submitted.stored) this.#add(conn, id);
    else this.#subscribe(conn, [id]);
  }

  /**
   * Stores a socket submit's or batch's payloads with the message's options,
   * for the socket's tenant. Past the per-socket limits, or when the service
   * refuses, answers `refused` for the ref and resolves undefined.
   */
  async #store(
    conn: ClientConnection,
    message: SubmitMessage | SubmitBatchMessage,
    payloads: readonly (string | Buffer)[],
    idempotencyKeys: string[] | undefined,
  ): Promise<Submitted | undefined> {
    const { ref } = message;
    if (
      conn.submitting >= MAX_SUBMITS_UNDER_WAY ||
      conn.ids.size + payloads.length > MAX_SUBSCRIPTIONS
    ) {
      const error = new TooManyError(
        `at most ${MAX_SUBMITS_UNDER_WAY} submits under way and ${MAX_SUBSCRIPTIONS} subscriptions per socket`,
      );
      conn.send({ type: 'refused', ref, code: error.code, message: error.message });
      return undefined;
    }
    conn.submitting++;
    try {
      return await this.#options.submit(message.function_id, payloads, {
        timeoutMs: message.timeout_ms,
        priority: message.priority,
        delayMs: message.delay_ms,
        deadlineMs: message.deadline_ms,
        retry: message.retry,
        labels: message.labels,
        idempotencyKeys,
        tenant: conn.tenant,
      });
    } catch (error) {
      conn.send({ type: 'refused', ref, ...this.#refusal(error) });
      return undefined;
    } finally {
      conn.submitting--;
    }
  }

  /**
   * Closes the socket for a frame it should not have sent: nothing after
   * that frame is read; the batches sent before it are stored and answered
   * first, then the socket closes.
   */
  #refuse(conn: ClientConnection, code: CloseCode, reason: string): void {
    if (conn.refused) return;
    conn.refused = true;
    void conn.batches.then(() => conn.ws.close(code, reason.slice(0, 120)));
  }

  /**
   * Stores a batch as POST /execute_batch does (all or nothing), answers
   * `submitted_batch` with the ids in payload order, and subscribes the
   * socket to every task. Tasks this call stored are subscribed without a
   * read (see #submit); those whose idempotency key named an earlier task
   * are read as a subscribe reads.
   */
  async #submitBatch(conn: ClientConnection, message: SubmitBatchMessage): Promise<void> {
    // The client closed its socket while this batch waited its turn: it was never answered.
    if (conn.closed) return;
    const submitted = await this.#store(conn, message, message.payloads, message.idempotency_keys);
    if (!submitted) return;
    const { ids, repeated } = submitted;
    conn.send({ type: 'submitted_batch', ref: message.ref, task_ids: ids });
    if (conn.closed) return;
    const earlier: string[] = [];
    ids.forEach((id, i) => {
      if (repeated.has(i)) earlier.push(id);
      else this.#add(conn, id);
    });
    if (earlier.length > 0) this.#subscribe(conn, earlier);
  }

  /** The error-table code and message a refused submit is answered with. */
  #refusal(error: unknown): { code: string; message: string } {
    if (error instanceof TaskgridError) return { code: error.code, message: error.message };
    this.#options.log.error({ err: error }, 'unexpected error in a socket submit');
    return { code: 'TG_INTERNAL', message: 'Internal server error' };
  }

  #unsubscribe(conn: ClientConnection, id: string): void {
    conn.ids.delete(id);
    conn.unverified.delete(id);
    const set = this.#subscribers.get(id);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.#subscribers.delete(id);
  }

  /**
   * Reads tasks (a chunk per round trip) and sends the finished ones; `only`
   * also learns of unknown ids. Ids whose read failed are read again later,
   * for as long as someone is subscribed to them.
   */
  async #readAndDeliver(ids: readonly string[], only?: ClientConnection): Promise<void> {
    for (let start = 0; start < ids.length; start += READ_CHUNK) {
      const chunk = ids.slice(start, start + READ_CHUNK);
      let records: (TaskRecord | undefined)[];
      try {
        records = await this.#options.store.getTasks(chunk);
      } catch (error) {
        this.#options.log.warn({ err: error }, 'client subscription read failed; will retry');
        this.#retryLater(ids.slice(start));
        return;
      }
      records.forEach((task, i) => {
        const id = chunk[i] as string;
        if (!task) {
          if (only) {
            only.send({ type: 'unknown', task_id: id });
            this.#unsubscribe(only, id);
          }
          return;
        }
        this.#verify(id, task.tenant);
        if (!isTerminal(task.status)) return;
        const message: ClientServerMessage = { type: 'result', task_id: id, status: task.status };
        if (task.status !== 'CANCELLED' && task.result !== undefined) message.result = task.result;
        this.#deliver(id, message);
      });
    }
  }

  #retryLater(ids: readonly string[]): void {
    for (const id of ids) this.#toRetry.add(id);
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      const again = [...this.#toRetry].filter((id) => this.#subscribers.has(id));
      this.#toRetry = new Set();
      if (again.length > 0) void this.#readAndDeliver(again);
    }, READ_RETRY_MS);
    this.#retry.unref();
  }

  /**
   * The store says whose task `id` is: unverified subscriptions of that
   * tenant become verified; those of another are answered `unknown`, as for
   * no task, and dropped.
   */
  #verify(id: string, tenant: string | undefined): void {
    const set = this.#subscribers.get(id);
    if (!set) return;
    for (const conn of set) {
      if (!conn.unverified.has(id)) continue;
      if (conn.tenant === tenant) {
        conn.unverified.delete(id);
        continue;
      }
      conn.send({ type: 'unknown', task_id: id });
      this.#unsubscribe(conn, id);
    }
  }

  /** Sends to every verified subscriber and drops them; unverified ones wait for their read. */
  #deliver(id: string, message: ClientServerMessage): void {
    const set = this.#subscribers.get(id);
    if (!set) return;
    for (const conn of set) {
      if (conn.unverified.has(id)) continue;
      set.delete(conn);
      conn.ids.delete(id);
      conn.send(message);
    }
    if (set.size === 0) this.#subscribers.delete(id);
  }

  async #broadcastStats(): Promise<void> {
    const watchers = [...this.#connections].filter((c) => c.watching);
    if (watchers.length > 0) await this.#sendStats(watchers);
  }

  async #sendStats(to: ClientConnection[]): Promise<void> {
    try {
      const stats = await this.#options.stats();
      for (const conn of to) conn.send(statsFor(stats, conn.tenant));
    } catch (error) {
      this.#options.log.debug({ err: error }, 'stats unavailable');
    }
  }
}

/**
 * The stats a socket of `tenant` is shown: a named tenant sees its own row
 * of the tenants table only; `default` (the single --token) sees all.
 */
function statsFor(stats: StatsMessage, tenant: string | undefined): StatsMessage {
  if (tenant === undefined || !stats.tenants) return stats;
  return { ...stats, tenants: stats.tenants.filter((t) => t.tenant === tenant) };
}

function outcomeMessage(outcome: TaskOutcome): ClientServerMessage {
  const message: ClientServerMessage = {
    type: 'result',
    task_id: outcome.id,
    status: outcome.status,
  };
  if (outcome.status !== 'CANCELLED') message.result = outcome.value;
  return message;
}
