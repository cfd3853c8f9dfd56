/**
 * The swarm: one process holding many WebSocket connections that speak the
 * worker protocol and run nothing. Each says hello (version, threads,
 * max_frame, its worker id again on a reconnect), takes its welcome, answers
 * every `tasks` frame at once with a `results` frame (each task COMPLETED
 * with `null`, what a no-op returns), asks for more in pull mode, answers
 * pings (swarm-socket.ts, from this event loop), and reconnects after a close with
 * the real worker's exponential backoff and jitter. So the server alone is
 * measured: no thread pool, no task runs. It keeps no heartbeat watchdog:
 * on one host a killed server's sockets close at once, which is all the
 * storm needs.
 *
 * Started by swarm.ts with an IPC channel; orders and reports are in
 * swarm-messages.ts.
 */

import { backoffDelay } from '../shared/backoff.js';
import { creditsFor } from '../shared/credits.js';
import {
  encode,
  PROTOCOL_VERSION,
  parseServerMessage,
  type ServerMessage,
  type WorkerMessage,
} from '../shared/protocol.js';
import type { TaskOutcome } from '../shared/types.js';
import { RECONNECT } from '../worker/worker-options.js';
import { type ConnectOrder, parseOrder, type SwarmReport } from './swarm-messages.js';
import { SwarmSocket } from './swarm-socket.js';

/** What the real worker takes (worker-client.ts, DEFAULT_SERVER_FRAME_BYTES). */
const MAX_FRAME = 64 * 1024 * 1024;
/** The real worker's prefetch default; with no run time the credit is threads × 256. */
const PREFETCH = 2;

function report(message: SwarmReport): void {
  process.send?.(message);
}

let welcomed = 0;
let answered = 0;
let reconnects = 0;

class SwarmConnection {
  readonly #order: ConnectOrder;
  readonly #url: URL;
  readonly #onFirstWelcome: () => void;
  #workerId: string | undefined;
  #retries = 0;
  #everWelcomed = false;
  #open = false;
  #pull = false;

  constructor(order: ConnectOrder, onFirstWelcome: () => void) {
    this.#order = order;
    this.#url = new URL(order.url);
    this.#onFirstWelcome = onFirstWelcome;
  }

  connect(): void {
    // A refused upgrade (429/503 from the connection caps) closes it, and it is retried like any close.
    const socket: SwarmSocket = new SwarmSocket(this.#url, {
      open: () => {
        const hello: WorkerMessage = {
          type: 'hello',
          version: PROTOCOL_VERSION,
          threads: this.#order.threads,
          max_frame: MAX_FRAME,
          ...(this.#workerId ? { worker_id: this.#workerId } : {}),
        };
        socket.send(encode(hello));
      },
      message: (data) => this.#onMessage(socket, data),
      close: () => this.#onClose(),
    });
  }

  #onMessage(socket: SwarmSocket, data: Buffer): void {
    let message: ServerMessage;
    try {
      message = parseServerMessage(data.toString('utf8'));
    } catch {
      socket.terminate();
      return;
    }
    switch (message.type) {
      case 'welcome':
        this.#workerId = message.worker_id;
        this.#retries = 0;
        this.#open = true;
        welcomed++;
        this.#pull = message.mode === 'pull';
        if (this.#pull) {
          const max = creditsFor(this.#order.threads, PREFETCH, 0);
          socket.send(encode({ type: 'pull', max }));
        }
        if (!this.#everWelcomed) {
          this.#everWelcomed = true;
          this.#onFirstWelcome();
        }
        return;
      case 'tasks': {
        if (message.tasks.length === 0) return;
        const results: TaskOutcome[] = message.tasks.map((task) => ({
          id: task.id,
          attempt: task.attempt,
          status: 'COMPLETED',
          value: 'null',
          run_ms: 0,
        }));
        socket.send(encode({ type: 'results', results }));
        answered += results.length;
        // A pull worker asks again for as many as it just finished (the server bounds it).
        if (this.#pull) socket.send(encode({ type: 'pull', max: results.length }));
        return;
      }
      case 'cancel':
        return; // nothing runs here, so there is nothing to stop
      case 'hand_back':
        // Every task is answered the moment it comes: none is held to hand back.
        socket.send(encode({ type: 'handed_back', tasks: [] }));
        return;
      default: {
        const never: never = message;
        throw new Error(`Unhandled server message ${JSON.stringify(never)}`);
      }
    }
  }

  #onClose(): void {
    if (this.#open) welcomed--;
    this.#open = false;
    reconnects++;
    // The real worker's policy and formula (worker-client.ts #onClose), not a copy of them.
    setTimeout(() => this.connect(), backoffDelay(this.#retries++, RECONNECT));
  }
}

/** Opens `order.connections` connections, at most `order.window` handshakes at a time. */
function connectAll(order: ConnectOrder): void {
  const started = performance.now();
  let next = 0;
  let done = 0;
  const startNext = () => {
    if (next >= order.connections) return;
    next++;
    new SwarmConnection(order, onWelcome).connect();
  };
  const onWelcome = () => {
    done++;
    if (done === order.connections) {
      report({ type: 'connected', connections: done, ms: performance.now() - started });
    }
    startNext();
  };
  for (let i = 0; i < Math.min(order.window, order.connections); i++) startNext();
}

process.on('message', (raw: unknown) => {
  try {
    const order = parseOrder(raw);
    if (order.type === 'stats') {
      report({ type: 'stats', welcomed, answered, reconnects });
    } else {
      connectAll(order);
    }
  } catch (error) {
    report({ type: 'failed', message: (error as Error).message });
  }
});
process.on('disconnect', () => process.exit(0));
report({ type: 'ready' });
