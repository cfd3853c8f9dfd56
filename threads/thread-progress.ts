/**
 * The `progress(value, note?)` global of a task thread. The thread runs one
 * task at a time (thread-runtime.ts), so an update belongs to the task
 * running when it is called: in a sync function, across the awaits of an
 * async one, and in callbacks that fire while it runs. A call made while no
 * task runs (a stray callback of a finished task) is ignored; a stray
 * callback that fires during a later task of the same thread is counted for
 * that task (documented in README).
 *
 * What task code passes is never trusted and never throws: a value that is
 * not a finite number is ignored, one outside 0…1 is clamped to it, a note
 * that is not a string is dropped and a long one is cut to
 * PROGRESS_NOTE_MAX. Updates are throttled to one per PROGRESS_INTERVAL_MS:
 * the first goes at once, later ones inside the window replace each other,
 * and the latest goes when the window ends (if its task still runs).
 *
 * Everything here runs after task code may have replaced built-ins, so it
 * uses the copies in sandbox-primordials.ts and timers taken at load.
 */

import { PROGRESS_INTERVAL_MS, PROGRESS_NOTE_MAX } from '../shared/progress.js';
import {
  MathMax,
  MathMin,
  NumberIsFinite,
  PerformanceNow,
  ReflectDefineProperty,
  StringSlice,
} from './sandbox-primordials.js';

export type SendProgress = (seq: number, value: number, note: string | undefined) => void;

const SetTimeout = setTimeout;
const ClearTimeout = clearTimeout;

export class ThreadProgress {
  readonly #send: SendProgress;
  /** Sequence number of the running task; -1 while none runs. */
  #seq = -1;
  #lastSent = Number.NEGATIVE_INFINITY;
  #held = false;
  #value = 0;
  #note: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(send: SendProgress) {
    this.#send = send;
  }

  /** Installs the global: not writable, not configurable, so task code cannot replace it. */
  install(): void {
    const report = (value: unknown, note?: unknown): void => this.#report(value, note);
    // An object-literal method: named `progress`, and not a constructor.
    const progress = {
      progress(value: unknown, note?: unknown): void {
        report(value, note);
      },
    }.progress;
    ReflectDefineProperty(globalThis, 'progress', {
      __proto__: null,
      value: progress,
      writable: false,
      enumerable: false,
      configurable: false,
    } as PropertyDescriptor);
  }

  /** A task starts: updates from now on are its own. */
  start(seq: number): void {
    this.#seq = seq;
    this.#lastSent = Number.NEGATIVE_INFINITY;
  }

  /** The task ended: an update still held is dropped (the server would refuse it anyway). */
  end(): void {
    this.#seq = -1;
    this.#held = false;
    this.#note = undefined;
    if (this.#timer !== undefined) {
      ClearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #report(value: unknown, note: unknown): void {
    try {
      if (this.#seq < 0 || typeof value !== 'number' || !NumberIsFinite(value)) return;
      const clamped = MathMin(1, MathMax(0, value));
      const text =
        typeof note === 'string'
          ? note.length > PROGRESS_NOTE_MAX
            ? StringSlice(note, 0, PROGRESS_NOTE_MAX)
            : note
          : undefined;
      const now = PerformanceNow();
      const wait = this.#lastSent + PROGRESS_INTERVAL_MS - now;
      if (wait <= 0 && this.#timer === undefined) {
        this.#lastSent = now;
        this.#send(this.#seq, clamped, text);
        return;
      }
      this.#held = true;
      this.#value = clamped;
      this.#note = text;
      if (this.#timer === undefined) {
        this.#timer = SetTimeout(() => this.#sendHeld(), MathMax(0, wait));
      }
    } catch {
      // Never the task's problem: an update that cannot be sent is dropped.
    }
  }

  #sendHeld(): void {
    this.#timer = undefined;
    if (!this.#held || this.#seq < 0) return;
    this.#held = false;
    this.#lastSent = PerformanceNow();
    const note = this.#note;
    this.#note = undefined;
    this.#send(this.#seq, this.#value, note);
  }
}
