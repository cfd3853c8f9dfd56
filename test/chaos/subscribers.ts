/**
 * Socket subscribers: one SDK result stream (`client/result-stream.ts`, the
 * socket under `TaskGrid`) per server, each waiting for every accepted task.
 * A wait that fails (server down, socket closed) is retried, as an
 * application would; what counts is whether each subscriber ends up
 * learning every outcome, and the same one the store holds.
 */

import { ResultStream } from '../../client/result-stream.js';
import type { History } from './history.js';
import type { TaskBook, TrackedTask } from './task-book.js';
import { short } from './task-kinds.js';

export class Subscribers {
  readonly #book: TaskBook;
  readonly #history: History;
  readonly #streams: { label: string; stream: ResultStream }[];
  readonly #errors = new Map<string, number>();
  #closed = false;

  constructor(
    book: TaskBook,
    history: History,
    servers: readonly { label: string; url: string }[],
    token: string,
  ) {
    this.#book = book;
    this.#history = history;
    this.#streams = servers.map((s) => ({
      label: `sub@${s.label}`,
      stream: new ResultStream(s.url, token),
    }));
  }

  get labels(): string[] {
    return this.#streams.map((s) => s.label);
  }

  start(task: TrackedTask): void {
    for (const { label, stream } of this.#streams) this.#wait(task, label, stream);
  }

  /** Failed waits per subscriber (each retried). */
  errors(): ReadonlyMap<string, number> {
    return this.#errors;
  }

  close(): void {
    this.#closed = true;
    for (const { stream } of this.#streams) stream.close();
  }

  #wait(task: TrackedTask, label: string, stream: ResultStream): void {
    const start = Date.now();
    stream.wait(task.id).then(
      (message) => {
        const end = Date.now();
        this.#history.record({
          kind: 'sub',
          start,
          end,
          target: label,
          tasks: [task.id],
          status: message.status,
          ...(message.result !== undefined ? { result: short(message.result, 100) } : {}),
        });
        const seen = this.#book.observe(task.id, message.status, message.result, start, end, label);
        if (seen) task.subLearned.set(label, seen);
      },
      (error: Error) => {
        if (this.#closed) return;
        const n = (this.#errors.get(label) ?? 0) + 1;
        this.#errors.set(label, n);
        // Only the first failure per task and subscriber goes in the history.
        if (
          !this.#history.forTask(task.id).some((e) => e.kind === 'sub-error' && e.target === label)
        ) {
          this.#history.record({
            kind: 'sub-error',
            start,
            end: Date.now(),
            target: label,
            tasks: [task.id],
            detail: error.message,
          });
        }
        setTimeout(() => {
          if (!this.#closed) this.#wait(task, label, stream);
        }, 500).unref();
      },
    );
  }
}
