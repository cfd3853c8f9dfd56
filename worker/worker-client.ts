/**
 * The worker process's socket side: handshake, tasks in, result batches out,
 * pull requests in pull mode, reconnects with exponential backoff and
 * jitter, and a bounded drain. Tasks run on a ThreadPool, so this thread is
 * always free to answer heartbeats.
 */

import type { Logger } from 'pino';
import WebSocket, { type RawData } from 'ws';
import { backoffDelay } from '../shared/backoff.js';
import { worthBinary } from '../shared/binary-frame.js';
import { CloseCode } from '../shared/close-codes.js';
import { creditsFor, RunTimeAverage } from '../shared/credits.js';
import { DEFAULT_FRAME_BYTES, DEFAULT_HEARTBEAT_MS } from '../shared/defaults.js';
import { ProtocolError, ResultTooLargeError } from '../shared/errors.js';
import type { ProgressUpdate } from '../shared/progress.js';
import {
  encode,
  frameBytes,
  frameText,
  PROTOCOL_VERSION,
  parseServerMessage,
  type ServerMessage,
  type WorkerMessage,
} from '../shared/protocol.js';
import { encodeResultsFrame } from '../shared/results-frame.js';
import { decodeTasksFrame, heldTasks } from '../shared/tasks-frame.js';
import { tlsRefusal, trustedRoots } from '../shared/transport-security.js';
import type { TaskOutcome } from '../shared/types.js';
import { zeroMask } from '../shared/unmasked-frames.js';
import { type ThreadPool, WorkerThreadPool } from '../threads/thread-pool.js';
import {
  RECONNECT,
  resolveWorkerOptions,
  type WorkerConfig,
  type WorkerOptions,
} from './worker-options.js';

export type { WorkerOptions };

/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSE = new Set<number>([CloseCode.Unauthorized, CloseCode.VersionMismatch]);
/** How long one connection attempt (TCP, TLS and the upgrade) may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Results frames are cut at about this size so one frame never nears the limit. */
const FRAME_TARGET_BYTES = 1024 * 1024;
/** Room kept in a frame for the envelope around one result. */
const FRAME_ENVELOPE = 64 * 1024;
/**
 * While more results are due here within this long (ms), a finished one
 * waits for them, so a stream of millisecond tasks sends a frame every few
 * ms rather than one per task: each frame costs the server a parse, a store
 * write and a claim, on the same cores the tasks run on. 15 rather than 4:
 * fib(25) on 2 workers × 1 thread went from 1,669 to ~2,100 tasks/s (the
 * server's and Redis's cost per frame spread over ~25 results, not ~7).
 */
const RESULTS_WAIT_MS = 15;
/** Results that go at once, without waiting for more. */
const RESULTS_PER_FRAME = 64;

const heldKey = (id: string, attempt: number): string => `${id}:${attempt}`;

export class TaskgridWorker {
  readonly threads: number;
  readonly #options: WorkerConfig;
  readonly #log: Logger;
  readonly #pool: ThreadPool;
  readonly #prefetch: number;
  /**
   * `id:attempt` → the connection generation it came on. Keyed by attempt: the
   * same task may come again (a peer server requeued it) while the earlier
   * attempt still runs here, and each attempt's result must find its own entry.
   * Results of older generations are dropped.
   */
  readonly #held = new Map<string, number>();
  /** Largest frame the server takes (from its welcome). */
  #serverMaxFrame = DEFAULT_FRAME_BYTES;
  /** The server reads binary results frames (from its welcome). */
  #binaryResults = false;
  #socket: WebSocket | undefined;
  #generation = 0;
  #workerId: string | undefined;
  #mode: 'push' | 'pull' | undefined;
  #outbox: TaskOutcome[] = [];
  readonly #runTime = new RunTimeAverage();
  /** Pull mode: tasks asked for and not yet received. */
  #asked = 0;
  #flushScheduled = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #retries = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #stopping = false;
  /** From the server's welcome; the watchdog allows four intervals. */
  #heartbeatMs = DEFAULT_HEARTBEAT_MS;
  #fatal: ((error: Error) => void) | undefined;
  #connectedOnce: (() => void) | undefined;

  /** Throws ConfigError naming the first option that is not right. */
  constructor(options: WorkerOptions) {
    this.#options = resolveWorkerOptions(options);
    this.#log = this.#options.log;
    this.threads = this.#options.threads;
    this.#prefetch = this.#options.prefetch;
    this.#pool = new WorkerThreadPool({
      threads: this.threads,
      maxResultBytes: this.#options.maxResultBytes,
      resourceLimits: { maxOldGenerationSizeMb: this.#options.threadMemoryMb },
      sandbox: this.#options.sandbox,
      onOutcomes: (outcomes) => this.#onOutcomes(outcomes),
      onProgress: (update) => this.#onProgress(update),
      onReplaced: (why, detail) => this.#log.warn({ why, detail }, 'replaced a task thread'),
    });
  }

  get id(): string | undefined {
    return this.#workerId;
  }

  /**
   * Connects and keeps connecting. Resolves once the first welcome arrives;
   * rejects on a fatal refusal (wrong token, wrong protocol version).
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#connectedOnce = () => resolve();
      this.#fatal = reject;
      this.#connect();
    });
  }

  /** Rejects when the server refuses this worker for good. */
  onFatal(listener: (error: Error) => void): void {
    this.#fatal = listener;
  }

  /** Stops taking tasks, finishes what it holds (bounded), sends results, and closes. */
  async drain(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    this.#send({ type: 'draining' });
    const limit = this.#options.drainTimeoutMs;
    await Promise.race([
      this.#pool.idle(),
      new Promise((resolve) => setTimeout(resolve, limit).unref()),
    ]);
    this.#flush();
    await this.#closeSocket(CloseCode.GoingAway, 'worker draining');
    await this.#pool.close();
  }

  /** Closes at once; the server returns held tasks to the queue. */
  async close(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    await this.#closeSocket(CloseCode.GoingAway, 'worker closing');
    await this.#pool.close();
  }

  #connect(): void {
    const generation = ++this.#generation;
    const maxFrame = this.#options.maxFrameBytes;
    const token = this.#options.token;
    const ca = this.#options.ca;
    const socket = new WebSocket(this.#options.url, {
      // A connect that hangs (a cut link, a dropped SYN) is given up and retried with backoff.
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      maxPayload: maxFrame,
      perMessageDeflate: false,
      generateMask: zeroMask,
      ...(ca === undefined ? {} : { ca: trustedRoots(ca) }),
      // The server checks this at the upgrade, before it reads a frame; the hello carries it too.
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
    this.#socket = socket;
    // A refusal at the upgrade: 401 is as final as close Unauthorized; 429/503 (connection caps) are retried.
    let refusedWith: number | undefined;
    let tlsFailure: string | undefined;
    socket.once('unexpected-response', (_req, res) => {
      refusedWith = res.statusCode;
      socket.terminate();
    });
    socket.on('open', () => {
      const hello: WorkerMessage = {
        type: 'hello',
        version: PROTOCOL_VERSION,
        threads: this.threads,
        max_frame: maxFrame,
        binary_tasks: true,
        ...(this.#options.labels.length > 0 ? { labels: this.#options.labels } : {}),
        ...(this.#workerId ? { worker_id: this.#workerId } : {}),
        ...(this.#options.token ? { token: this.#options.token } : {}),
      };
      socket.send(encode(hello));
    });
    socket.on('ping', () => this.#armWatchdog());
    socket.on('message', (data: RawData, isBinary: boolean) =>
      this.#onMessage(generation, data, isBinary),
    );
    socket.on('error', (error) => {
      // A certificate this worker does not trust will not become trusted by retrying.
      tlsFailure ??= tlsRefusal(error, this.#options.url);
      this.#log.debug({ err: error.message }, 'socket error');
    });
    socket.on('close', (code, reason) => {
      if (refusedWith === 401) {
        this.#onClose(
          generation,
          CloseCode.Unauthorized,
          'HTTP 401 at the upgrade: the token is wrong',
        );
      } else if (tlsFailure !== undefined) {
        this.#onClose(generation, code, reason.toString(), tlsFailure);
      } else {
        this.#onClose(generation, code, reason.toString());
      }
    });
  }

  #onMessage(generation: number, data: RawData, isBinary: boolean): void {
    let message: ServerMessage;
    try {
      // Binary frames are tasks frames (this worker asked for them in its hello).
      message = isBinary ? decodeTasksFrame(frameBytes(data)) : parseServerMessage(frameText(data));
    } catch (error) {
      this.#log.error({ err: (error as Error).message }, 'malformed frame from server');
      this.#socket?.close(CloseCode.BadFrame, (error as ProtocolError).message.slice(0, 120));
      return;
    }
    switch (message.type) {
      case 'welcome': {
        this.#retries = 0;
        this.#workerId = message.worker_id;
        this.#mode = message.mode;
        this.#heartbeatMs = message.heartbeat_ms;
        this.#serverMaxFrame = message.max_frame ?? DEFAULT_FRAME_BYTES;
        this.#binaryResults = message.binary_results === true;
        this.#armWatchdog();
        this.#log.info(
          { worker: message.worker_id, mode: message.mode, url: this.#options.url },
          'connected to server',
        );
        this.#asked = 0;
        if (message.mode === 'pull') this.#topUp();
        this.#connectedOnce?.();
        this.#connectedOnce = undefined;
        return;
      }
      case 'tasks':
        this.#asked = Math.max(0, this.#asked - message.tasks.length);
        this.#pool.addFunctions(message.functions);
        for (const task of message.tasks)
          this.#held.set(heldKey(task.id, task.attempt), generation);
        this.#pool.run(heldTasks(message.tasks));
        return;
      case 'hand_back':
        this.#handBack(message.ids);
        return;
      case 'cancel':
        message.ids.forEach((id, i) => {
          const attempt = message.attempts?.[i];
          // Only the named attempt: a newer one of the same task may be running here too.
          if (attempt === undefined) this.#pool.cancel(id);
          else if (this.#held.has(heldKey(id, attempt))) this.#pool.cancel(id, attempt);
        });
        return;
      default: {
        const never: never = message;
        throw new ProtocolError(`Unhandled server message ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * A higher-priority task was queued on the server: give back those of
   * these tasks that no thread has taken yet, and keep the order given.
   */
  #handBack(ids: readonly string[]): void {
    this.#pool.exact = true;
    const back = this.#pool.takeBack(new Set(ids));
    for (const task of back) this.#held.delete(heldKey(task.id, task.attempt));
    this.#send({
      type: 'handed_back',
      tasks: back.map((t) => ({ id: t.id, attempt: t.attempt })),
    });
    // Room again for as many as went back: a pull worker asks for them.
    if (this.#mode === 'pull' && !this.#stopping) this.#topUp();
  }

  /** A server that stops pinging is gone even if TCP has not noticed: reconnect. */
  #armWatchdog(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => {
      this.#log.warn('no heartbeat from the server; reconnecting');
      this.#socket?.terminate();
    }, this.#heartbeatMs * 4);
    this.#watchdog.unref();
  }

  /** `refusal`: why this worker gives up on the server (its certificate is not trusted). */
  #onClose(generation: number, code: number, reason: string, refusal?: string): void {
    if (generation !== this.#generation) return;
    clearTimeout(this.#watchdog);
    this.#socket = undefined;
    // The server put everything we held back in the queue: stop running it here.
    for (const [key, gen] of this.#held) {
      if (gen !== generation) continue;
      const at = key.lastIndexOf(':');
      this.#pool.cancel(key.slice(0, at), Number(key.slice(at + 1)));
    }
    this.#outbox = [];
    if (this.#stopping) return;
    if (refusal !== undefined || FATAL_CLOSE.has(code)) {
      const message = refusal ?? `Server refused the worker (close ${code}): ${reason}`;
      this.#log.error({ code, reason }, message);
      this.#stopping = true;
      void this.#pool.close();
      this.#fatal?.(new Error(message));
      return;
    }
    const delay = backoffDelay(this.#retries, RECONNECT);
    this.#retries++;
    this.#log.warn({ code, reason, retry_in_ms: Math.round(delay) }, 'disconnected; reconnecting');
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  #onOutcomes(outcomes: TaskOutcome[]): void {
    let finished = 0;
    this.#runTime.add(outcomes);
    for (const outcome of outcomes) {
      const key = heldKey(outcome.id, outcome.attempt);
      const generation = this.#held.get(key);
      this.#held.delete(key);
      if (generation !== this.#generation) continue;
      this.#outbox.push(this.#fitting(outcome));
      finished++;
    }
    if (finished > 0) this.#scheduleFlush();
  }

  /**
   * Sent at once, as a text frame (the thread throttled it already): only
   * for an attempt that came on the current connection, as results are.
   * It goes before the task's result, which waits for its batch.
   */
  #onProgress(update: ProgressUpdate): void {
    if (this.#held.get(heldKey(update.id, update.attempt)) !== this.#generation) return;
    const { id, attempt, value, note } = update;
    this.#send(
      note === undefined
        ? { type: 'progress', id, attempt, value }
        : { type: 'progress', id, attempt, value, note },
    );
  }

  /**
   * One frame per turn of the event loop carries every result that is ready;
   * while tasks still running here should finish within RESULTS_WAIT_MS (but
   * fewer than a frame's worth), it waits for them, at most that long after
   * the first result it carries.
   */
  #scheduleFlush(): void {
    const expected =
      (Math.min(this.#held.size, this.threads) * RESULTS_WAIT_MS) / this.#runTime.value;
    // Tasks so cheap that a frame's worth finishes within the wait already come back in
    // large batches from the threads: waiting would only delay them.
    if (this.#outbox.length < RESULTS_PER_FRAME && expected >= 1 && expected < RESULTS_PER_FRAME) {
      this.#flushTimer ??= setTimeout(() => this.#flush(), RESULTS_WAIT_MS);
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** A result that cannot fit in a frame the server takes fails its task instead. */
  #fitting(outcome: TaskOutcome): TaskOutcome {
    const limit = this.#serverMaxFrame - FRAME_ENVELOPE;
    // JSON escaping at most doubles plain text; measure exactly only when it may matter.
    if (outcome.value.length * 2 <= limit) return outcome;
    const size = Buffer.byteLength(JSON.stringify(outcome.value));
    if (size <= limit) return outcome;
    const error = new ResultTooLargeError(size, limit);
    return {
      ...outcome,
      status: 'FAILED',
      value: JSON.stringify({ ...error.toData(), stack: '' }),
    };
  }

  #flush(): void {
    this.#flushScheduled = false;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#outbox.length === 0) return;
    const outcomes = this.#outbox;
    this.#outbox = [];
    const target = Math.min(FRAME_TARGET_BYTES, this.#serverMaxFrame / 4);
    let batch: TaskOutcome[] = [];
    let bytes = 0;
    for (const outcome of outcomes) {
      if (batch.length > 0 && bytes + outcome.value.length * 2 + 96 > target) {
        this.#sendResults(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(outcome);
      bytes += outcome.value.length * 2 + 96;
      if (bytes >= target) {
        this.#sendResults(batch);
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length > 0) this.#sendResults(batch);
    if (this.#mode === 'pull' && !this.#stopping) this.#topUp();
  }

  /** Pull mode: asks for as many tasks as it has room for and has not asked for yet. */
  #topUp(): void {
    const room = creditsFor(this.threads, this.#prefetch, this.#runTime.value);
    const want = room - this.#held.size - this.#asked;
    if (want <= 0) return;
    this.#asked += want;
    this.#send({ type: 'pull', max: want });
  }

  #sendResults(results: TaskOutcome[]): void {
    if (!this.#binaryResults || !worthBinary(results, (o) => o.value)) {
      this.#send({ type: 'results', results });
      return;
    }
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(encodeResultsFrame(results));
  }

  #send(message: WorkerMessage): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(encode(message));
  }

  async #closeSocket(code: number, reason: string): Promise<void> {
    clearTimeout(this.#watchdog);
    const socket = this.#socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.close(code, reason);
    const timer = setTimeout(() => socket.terminate(), 2000);
    await closed;
    clearTimeout(timer);
  }
}
