/**
 * Writes task outcomes to the store in batches: everything that arrived
 * while the previous write was in flight goes in the next one (bounded in
 * count and bytes), so one round trip carries many results.
 *
 * While the store is unreachable, outcomes wait in a buffer bounded in count
 * and bytes and are written on a timer until it returns; past the bound the
 * oldest are dropped and their tasks run again when their lease ends
 * (at-least-once). A batch the store rejects for what it holds is split
 * until the one outcome at fault is found; that task alone fails, with the
 * store's reason, so one bad value never holds up anyone else's.
 *
 * Drops and refusals are counted in the metrics and logged: a drop episode
 * (from the first drop until the buffer is written out) is one warning when
 * it starts and one line with its count when it ends, however many it drops.
 */

import type { Logger } from 'pino';
import { BadResultError, DEADLINE_EXCEEDED_VALUE, UnavailableError } from '../../shared/errors.js';
import type { TaskOutcome } from '../../shared/types.js';
import type { TaskStore } from '../store/task-store.js';

const RETRY_MS = 200;
/** One write carries at most this much: a store call builds one argument of it. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024;
const MAX_BATCH = 10_000;
/** What an outcome costs beyond its value (id, attempt, status, framing). */
const OUTCOME_OVERHEAD = 96;

export interface OutcomeWriterLimits {
  /** Outcomes held at most. */
  count: number;
  /** Bytes of values held at most. */
  bytes: number;
}

/** Where the writer counts what it could not store (GridMetrics). */
export interface OutcomeCounters {
  /** Outcomes dropped past the buffer's bound. */
  outcomesDropped(count: number): void;
  /** An outcome the store would not take even as a plain failure. */
  outcomeRejected(): void;
}

export interface OutcomeWriterOptions {
  limits: OutcomeWriterLimits;
  metrics: OutcomeCounters;
  log: Logger;
}

const weight = (o: TaskOutcome): number => o.value.length + OUTCOME_OVERHEAD;

export class OutcomeWriter {
  readonly #store: TaskStore;
  readonly #limits: OutcomeWriterLimits;
  readonly #metrics: OutcomeCounters;
  readonly #log: Logger;
  #buffer: TaskOutcome[] = [];
  #bytes = 0;
  #writing: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** Outcomes dropped since the current drop episode began; 0 outside one. */
  #droppedInEpisode = 0;

  constructor(store: TaskStore, options: OutcomeWriterOptions) {
    this.#store = store;
    this.#limits = options.limits;
    this.#metrics = options.metrics;
    this.#log = options.log;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  add(outcomes: readonly TaskOutcome[]): void {
    for (const outcome of outcomes) {
      // A task that never started before its deadline is not retried by its policy.
      const final = outcome.status === 'FAILED' && outcome.value === DEADLINE_EXCEEDED_VALUE;
      this.#buffer.push(final ? { ...outcome, final } : outcome);
      this.#bytes += weight(outcome);
    }
    this.#trim();
    this.#kick();
  }

  /** Resolves when everything buffered so far was written (or the store failed). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  stop(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  #trim(): void {
    let excess = 0;
    while (
      excess < this.#buffer.length &&
      (this.#buffer.length - excess > this.#limits.count || this.#bytes > this.#limits.bytes)
    ) {
      this.#bytes -= weight(this.#buffer[excess] as TaskOutcome);
      excess++;
    }
    if (excess === 0) return;
    this.#buffer.splice(0, excess);
    this.#metrics.outcomesDropped(excess);
    if (this.#droppedInEpisode === 0) {
      this.#log.warn(
        { dropped: excess, limits: this.#limits },
        'the result buffer is full: dropping the oldest results; their tasks run again when their leases end',
      );
    }
    this.#droppedInEpisode += excess;
  }

  /** Everything buffered was written: a drop episode, if one was going on, is over. */
  #endEpisode(): void {
    if (this.#droppedInEpisode === 0) return;
    this.#log.info(
      { dropped: this.#droppedInEpisode },
      'the result buffer is written out; results were dropped while it was full',
    );
    this.#droppedInEpisode = 0;
  }

  /** Starts a write unless one is running, a retry is pending, or there is nothing to write. */
  #kick(): void {
    if (this.#writing || this.#retry || this.#buffer.length === 0) return;
    // Cleared in `finally`, which always runs after this assignment, even for a write that
    // finishes at once.
    this.#writing = this.#write().finally(() => {
      this.#writing = undefined;
    });
  }

  async #write(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#take();
      const unwritten = await this.#writeIsolating(batch);
      if (unwritten.length === 0) {
        if (this.#buffer.length === 0) this.#endEpisode();
        continue;
      }
      // The store is unreachable: keep the rest, oldest first, and try again soon.
      this.#buffer = unwritten.concat(this.#buffer);
      for (const outcome of unwritten) this.#bytes += weight(outcome);
      this.#trim();
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#kick();
      }, RETRY_MS);
      this.#retry.unref();
      return;
    }
  }

  /** The oldest outcomes, up to one batch's bound. */
  #take(): TaskOutcome[] {
    let n = 0;
    let bytes = 0;
    while (n < this.#buffer.length && n < MAX_BATCH) {
      const w = weight(this.#buffer[n] as TaskOutcome);
      if (n > 0 && bytes + w > MAX_BATCH_BYTES) break;
      bytes += w;
      n++;
    }
    this.#bytes -= bytes;
    return this.#buffer.splice(0, n);
  }

  /**
   * Writes a batch; a part the store rejects is split in two until the bad
   * outcome is alone, which is then replaced by a failure naming the reason.
   * Returns what is left unwritten when the store became unreachable.
   */
  async #writeIsolating(batch: TaskOutcome[]): Promise<TaskOutcome[]> {
    const parts: TaskOutcome[][] = [batch];
    while (parts.length > 0) {
      const part = parts.pop() as TaskOutcome[];
      try {
        await this.#store.complete(part);
      } catch (error) {
        if (error instanceof UnavailableError) {
          this.#log.warn({ err: error }, 'writing results failed; holding them for retry');
          return [part, ...parts.reverse()].flat();
        }
        this.#log.warn(
          { err: error, results: part.length },
          'the store refused a batch of results; looking for the one at fault',
        );
        if (part.length > 1) {
          const half = Math.ceil(part.length / 2);
          parts.push(part.slice(half), part.slice(0, half));
        } else if (part[0] && !isReplacement(part[0])) {
          parts.push([replacement(part[0], error)]);
        } else {
          this.#metrics.outcomeRejected();
        }
      }
    }
    return [];
  }
}

const REJECTED_PREFIX = 'The store would not take this result: ';

function replacement(outcome: TaskOutcome, error: unknown): TaskOutcome {
  const reason = error instanceof Error ? error.message : String(error);
  const data = new BadResultError(`${REJECTED_PREFIX}${reason.slice(0, 500)}`).toData();
  return { ...outcome, status: 'FAILED', value: JSON.stringify({ ...data, stack: '' }) };
}

function isReplacement(outcome: TaskOutcome): boolean {
  return outcome.status === 'FAILED' && outcome.value.includes(REJECTED_PREFIX);
}
