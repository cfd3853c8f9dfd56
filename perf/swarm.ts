/**
 * The harness's handle on a swarm process (swarm-process.ts): many
 * protocol-level worker connections in one child, so the server is measured
 * alone. The swarm's own clock says when its connections have their
 * welcomes; `connectedWorkers` asks the server, which is the figure that
 * counts.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { GridClient } from '../test/helpers/grid-client.js';
import { fdLimit } from './proc-stats.js';
import {
  type ConnectOrder,
  parseReport,
  type SwarmOrder,
  type SwarmReport,
  type SwarmStats,
} from './swarm-messages.js';

const ENTRY = fileURLToPath(new URL('./swarm-process.js', import.meta.url));

type Waiter = { type: SwarmReport['type']; resolve: (report: SwarmReport) => void };

export class Swarm {
  readonly #child: ChildProcess;
  readonly #waiters: Waiter[] = [];
  #failure: Error | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (raw: unknown) => this.#onReport(parseReport(raw)));
    child.once('exit', (code, signal) => {
      this.#failure ??= new Error(`the swarm process exited (${signal ?? code})`);
    });
  }

  static async start(): Promise<Swarm> {
    const child = fork(ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const swarm = new Swarm(child);
    await swarm.#next('ready', 10_000);
    return swarm;
  }

  /**
   * Opens the connections; resolves with the swarm's own time until every one
   * had its welcome (ms). They stay open, and reconnect when closed.
   */
  async connect(order: Omit<ConnectOrder, 'type'>, timeoutMs = 120_000): Promise<number> {
    // Each connection is a file descriptor here too; the hard limit cannot be raised from inside.
    const limit = fdLimit(this.#child.pid as number);
    if (order.connections + 64 > limit) {
      throw new Error(
        `the swarm cannot hold ${order.connections} connections with an open-file limit of ${limit} (ulimit -n)`,
      );
    }
    const connected = this.#next('connected', timeoutMs);
    this.#send({ type: 'connect', ...order });
    const report = await connected;
    return report.type === 'connected' ? report.ms : Number.NaN;
  }

  async stats(): Promise<SwarmStats> {
    const next = this.#next('stats', 10_000);
    this.#send({ type: 'stats' });
    const report = await next;
    if (report.type !== 'stats') throw new Error('expected swarm stats');
    return { welcomed: report.welcomed, answered: report.answered, reconnects: report.reconnects };
  }

  /** kill -9: every connection drops at once, as when a host dies. */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }

  #send(order: SwarmOrder): void {
    if (this.#failure) throw this.#failure;
    this.#child.send(order);
  }

  #next(type: SwarmReport['type'], timeoutMs: number): Promise<SwarmReport> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(this.#failure ?? new Error(`the swarm sent no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        type,
        resolve: (report) => {
          clearTimeout(timer);
          resolve(report);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #onReport(report: SwarmReport): void {
    if (report.type === 'failed') {
      this.#failure = new Error(`swarm: ${report.message}`);
      return;
    }
    const at = this.#waiters.findIndex((w) => w.type === report.type);
    if (at < 0) return;
    const [waiter] = this.#waiters.splice(at, 1);
    waiter?.resolve(report);
  }
}

/**
 * How many workers the server lists: `total` of a one-worker page of
 * `GET /workers`, so a poll costs the server no list of 15,000 workers.
 */
export async function connectedWorkers(grid: GridClient): Promise<number> {
  const reply = await grid.call<unknown>('GET', '/workers?limit=1');
  const body = reply.body;
  if (typeof body === 'object' && body !== null && 'total' in body) {
    if (typeof body.total === 'number') return body.total;
  }
  throw new Error(`GET /workers answered ${reply.status} ${JSON.stringify(body).slice(0, 200)}`);
}

/**
 * Polls the server until it lists at least `count` workers; resolves with
 * performance.now() of the poll that saw them.
 */
export async function waitForWorkers(
  grid: GridClient,
  count: number,
  timeoutMs: number,
  everyMs = 50,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let seen = 0;
  for (;;) {
    try {
      seen = await connectedWorkers(grid);
      if (seen >= count) return performance.now();
    } catch {
      // A server still starting (or just killed) does not answer yet.
    }
    if (performance.now() > deadline) {
      throw new Error(`the server listed ${seen} of ${count} workers after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
