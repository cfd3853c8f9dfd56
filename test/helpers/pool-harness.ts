/** A WorkerThreadPool driven directly: submit a function and arguments, await its one outcome. */

import { randomUUID } from 'node:crypto';
import type { TaskOutcome } from '../../shared/types.js';
import { type ThreadPoolOptions, WorkerThreadPool } from '../../threads/thread-pool.js';

export class PoolHarness {
  readonly pool: WorkerThreadPool;
  /** Every outcome the pool reported, in order, to check that each task got exactly one. */
  readonly reported: TaskOutcome[] = [];
  readonly replaced: string[] = [];
  readonly #waiters = new Map<string, (outcome: TaskOutcome) => void>();
  readonly #fns = new Map<string, string>();

  constructor(options: Partial<ThreadPoolOptions> = {}) {
    this.pool = new WorkerThreadPool({
      threads: 1,
      maxResultBytes: 1024 * 1024,
      resourceLimits: { maxOldGenerationSizeMb: 64 },
      ...options,
      onOutcomes: (outcomes) => {
        for (const outcome of outcomes) {
          this.reported.push(outcome);
          this.#waiters.get(outcome.id)?.(outcome);
          this.#waiters.delete(outcome.id);
        }
      },
      onReplaced: (why, detail) => this.replaced.push(`${why}: ${detail}`),
    });
  }

  /** Function id for a source (one per distinct source). */
  fn(source: string): string {
    let id = this.#fns.get(source);
    if (!id) {
      id = randomUUID();
      this.#fns.set(source, id);
      this.pool.addFunctions([{ id, source }]);
    }
    return id;
  }

  /** Starts a task; resolves with its outcome. */
  submit(source: string, args: unknown[] = [], timeoutMs = 60_000): Promise<TaskOutcome> {
    const id = randomUUID();
    const done = new Promise<TaskOutcome>((resolve) => this.#waiters.set(id, resolve));
    this.pool.run([
      { id, fn: this.fn(source), args: JSON.stringify(args), attempt: 1, timeout_ms: timeoutMs },
    ]);
    return done;
  }

  /** The outcome, or a rejection if none came within `withinMs` (the task's own timeout is longer). */
  async run(
    source: string,
    args: unknown[] = [],
    withinMs = 10_000,
    timeoutMs = 60_000,
  ): Promise<TaskOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no outcome within ${withinMs} ms for ${source.slice(0, 80)}`)),
        withinMs,
      );
    });
    try {
      return await Promise.race([this.submit(source, args, timeoutMs), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The error data of a FAILED outcome. */
export function errorOf(outcome: TaskOutcome): { name: string; message: string; stack?: string } {
  return JSON.parse(outcome.value) as { name: string; message: string; stack?: string };
}
