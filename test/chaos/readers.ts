/**
 * The harness's readers. Each accepted task gets a long-poller
 * (`GET /result/:id?wait=`) that polls a server chosen by the task's own
 * seeded stream until it learns a terminal outcome; a re-reader keeps
 * reading tasks already seen terminal, during the run and after it, so a
 * result that changes is caught.
 */

import type { History } from './history.js';
import { call, errorText, field } from './http.js';
import { sleep } from './load.js';
import { Prng } from './prng.js';
import { type TaskBook, TERMINAL, type TrackedTask } from './task-book.js';
import { short } from './task-kinds.js';

export interface ReaderContext {
  book: TaskBook;
  history: History;
  servers: readonly { label: string; url: string }[];
  token: string;
  seed: number;
}

interface Read {
  http: number;
  status: string | undefined;
  result: string | undefined;
  error: string | undefined;
}

/** One read of a task's result on one server, recorded and observed. */
export async function readResult(
  ctx: ReaderContext,
  task: TrackedTask,
  server: { label: string; url: string },
  kind: 'poll' | 'read',
  waitMs: number,
): Promise<Read> {
  const start = Date.now();
  const path = waitMs > 0 ? `/result/${task.id}?wait=${waitMs}` : `/result/${task.id}`;
  const answer = await call(server.url, ctx.token, 'GET', path, undefined, waitMs + 3000);
  const end = Date.now();
  const status = field(answer.body, 'status');
  const result = field(answer.body, 'result');
  const read: Read = {
    http: answer.status,
    status: typeof status === 'string' ? status : undefined,
    result: typeof result === 'string' ? result : undefined,
    error: answer.error ?? (answer.status === 200 ? undefined : errorText(answer.body)),
  };
  ctx.history.record({
    kind,
    start,
    end,
    target: server.label,
    http: answer.status,
    tasks: [task.id],
    ...(read.status ? { status: read.status } : {}),
    ...(read.result !== undefined ? { result: short(read.result, 100) } : {}),
    detail: [waitMs > 0 ? `wait ${waitMs}` : '', read.error ?? ''].filter(Boolean).join(' '),
  });
  if (answer.status === 200 && read.status) {
    ctx.book.observe(task.id, read.status, read.result, start, end, `${kind}@${server.label}`);
  }
  return read;
}

export class LongPollers {
  readonly #ctx: ReaderContext;
  readonly #waitMs: number;
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  constructor(ctx: ReaderContext, waitMs: number) {
    this.#ctx = ctx;
    this.#waitMs = waitMs;
  }

  start(task: TrackedTask): void {
    const running = this.#poll(task).finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  /** Pollers that have not learned their task's outcome. */
  get active(): number {
    return this.#running.size;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#running]);
  }

  async #poll(task: TrackedTask): Promise<void> {
    const prng = Prng.stream(this.#ctx.seed, `poll:${task.nonce}`);
    const { servers } = this.#ctx;
    while (!this.#stopped) {
      const server = prng.pick(servers);
      const read = await readResult(this.#ctx, task, server, 'poll', this.#waitMs);
      if (read.http === 200 && read.status && TERMINAL.has(read.status)) {
        task.pollLearned = {
          at: Date.now(),
          status: read.status,
          result: read.result,
          via: server.label,
        };
        return;
      }
      if (read.http !== 200) await sleep(300);
    }
  }
}

/** Re-reads terminal tasks round robin, a few every half second. */
export class ReReader {
  readonly #ctx: ReaderContext;
  readonly #prng: Prng;
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(ctx: ReaderContext) {
    this.#ctx = ctx;
    this.#prng = Prng.stream(ctx.seed, 'reread');
  }

  start(perTick = 8, everyMs = 500): void {
    this.#timer = setInterval(() => void this.#tick(perTick), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tick(perTick: number): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const done = [...this.#ctx.book.tasks.values()].filter((t) => t.terminal);
      const reads: Promise<Read>[] = [];
      for (let i = 0; i < Math.min(perTick, done.length); i++) {
        const task = done[this.#next++ % done.length] as TrackedTask;
        reads.push(readResult(this.#ctx, task, this.#prng.pick(this.#ctx.servers), 'read', 0));
      }
      await Promise.all(reads);
    } finally {
      this.#busy = false;
    }
  }
}
