/**
 * A worker that speaks the wire protocol by hand (shared/protocol.ts), so a
 * test can do what no real worker does: take tasks and never answer (it
 * still answers pings: `ws` pongs by itself), or answer with a value of its
 * choosing.
 */

import WebSocket from 'ws';
import { PROTOCOL_VERSION, parseServerMessage, type ServerMessage } from '../../shared/protocol.js';
import type { TaskOutcome } from '../../shared/types.js';

type TasksFrame = Extract<ServerMessage, { type: 'tasks' }>;
export type RogueTask = TasksFrame['tasks'][number];

export class RogueWorker {
  readonly #ws: WebSocket;
  readonly tasks: RogueTask[] = [];
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const message = parseServerMessage(data.toString());
      if (message.type !== 'tasks') return;
      this.tasks.push(...message.tasks);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Connects, says hello, and resolves on the server's welcome. */
  static connect(wsUrl: string, threads = 1): Promise<RogueWorker> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      ws.once('error', reject);
      ws.once('open', () =>
        ws.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, threads })),
      );
      ws.once('message', (data) => {
        const message = parseServerMessage(data.toString());
        if (message.type !== 'welcome') reject(new Error(`expected welcome, got ${message.type}`));
        else resolve(new RogueWorker(ws));
      });
    });
  }

  /** Waits (bounded) until at least `n` tasks arrived. */
  async received(n: number, boundMs = 10_000): Promise<RogueTask[]> {
    const deadline = Date.now() + boundMs;
    while (this.tasks.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`rogue worker got ${this.tasks.length} of ${n} tasks`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.tasks;
  }

  /** Sends one results frame, as a worker would. */
  sendResults(results: TaskOutcome[]): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#ws.send(JSON.stringify({ type: 'results', results }), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }

  /** Sends frames as they are, JSON-encoded (progress messages, say), without waiting. */
  sendRaw(messages: readonly Record<string, unknown>[]): void {
    for (const message of messages) this.#ws.send(JSON.stringify(message));
  }

  /** Its socket is still open (the server did not close it). */
  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.#ws.once('close', () => resolve());
      this.#ws.close(1000);
    });
  }
}
