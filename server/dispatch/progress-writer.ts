/**
 * Progress updates on their way from task holders (the local pool, remote
 * workers) to the store, throttled per task: at most one store write per
 * PROGRESS_INTERVAL_MS per task, whatever a worker sends, so a rogue or
 * broken worker cannot flood the store. The first update of a quiet task is
 * written at once and opens a window; updates inside it replace each other,
 * and the latest is written when it ends (which opens the next window). A
 * window with nothing held ends the task's entry, so entries exist only for
 * tasks reporting now, and only tasks a holder holds get here (the
 * dispatcher checks), which bounds them.
 *
 * Progress is advisory: a write that fails is dropped (the next update or the
 * result supersedes it), and the store refuses an update whose task is no
 * longer RUNNING under that attempt.
 */

import type { Logger } from 'pino';
import { PROGRESS_INTERVAL_MS, type ProgressUpdate } from '../../shared/progress.js';
import type { Progress, TaskStore } from '../store/task-store.js';

interface Held {
  attempt: number;
  progress: Progress;
}

interface Window {
  timer: NodeJS.Timeout;
  held: Held | undefined;
}

export class ProgressWriter {
  readonly #store: TaskStore;
  readonly #log: Logger;
  readonly #windows = new Map<string, Window>();
  #closed = false;

  constructor(store: TaskStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** Tasks with an open window (for tests). */
  get size(): number {
    return this.#windows.size;
  }

  /** An update that arrived now (`at` is its arrival time). */
  offer(update: ProgressUpdate): void {
    if (this.#closed) return;
    const progress: Progress = { value: update.value, at: Date.now() };
    if (update.note !== undefined) progress.note = update.note;
    const held = { attempt: update.attempt, progress };
    const window = this.#windows.get(update.id);
    if (window) {
      window.held = held;
      return;
    }
    this.#write(update.id, held);
    this.#open(update.id);
  }

  /** Drops what is held; nothing is written after this. */
  close(): void {
    this.#closed = true;
    for (const window of this.#windows.values()) clearTimeout(window.timer);
    this.#windows.clear();
  }

  #open(id: string): void {
    const timer = setTimeout(() => this.#windowEnded(id), PROGRESS_INTERVAL_MS);
    timer.unref();
    this.#windows.set(id, { timer, held: undefined });
  }

  #windowEnded(id: string): void {
    const window = this.#windows.get(id);
    this.#windows.delete(id);
    if (!window?.held || this.#closed) return;
    this.#write(id, window.held);
    this.#open(id);
  }

  #write(id: string, held: Held): void {
    this.#store.setProgress(id, held.attempt, held.progress).catch((error: unknown) => {
      this.#log.debug({ err: error, task: id }, 'progress not stored');
    });
  }
}
