/**
 * A Jepsen-style history of the run: every client operation (submit with its
 * answer, cancel, each result read, long-poll and subscriber message) and
 * every fault, each with the wall-clock times it began and ended. The
 * checker works from this record (plus a final read of the store), and on a
 * violation the part of it that concerns a bad task is printed.
 */

import { writeFileSync } from 'node:fs';

export type EventKind =
  | 'register'
  | 'probe'
  | 'submit'
  | 'cancel'
  | 'poll'
  | 'read'
  | 'sub'
  | 'sub-error'
  | 'owner'
  | 'fault'
  | 'rogue'
  | 'final';

export interface HistoryEvent {
  kind: EventKind;
  /** When the operation began (ms since the epoch). */
  start: number;
  /** When it ended (the answer came, the fault healed). */
  end: number;
  /** Which server, subscriber, process or fault target. */
  target?: string;
  /** Task ids the event concerns. */
  tasks?: readonly string[];
  /** Nonces the event concerns (submits: the tasks' identity before they have ids). */
  nonces?: readonly string[];
  /** HTTP status, or 0 for a network error or timeout. */
  http?: number;
  /** Task status read, for reads, polls and subscriber messages. */
  status?: string;
  /** Result text read (shortened). */
  result?: string;
  /** Fault events: which fault (worker-kill, redis-pause, …). */
  fault?: string;
  detail?: string;
}

export interface FaultWindow {
  kind: string;
  target: string;
  start: number;
  end: number;
  detail: string;
}

export class History {
  readonly t0 = Date.now();
  readonly events: HistoryEvent[] = [];
  readonly #byTask = new Map<string, HistoryEvent[]>();
  readonly #byNonce = new Map<string, HistoryEvent[]>();
  readonly #faults: FaultWindow[] = [];

  record(event: HistoryEvent): HistoryEvent {
    this.events.push(event);
    if (event.kind === 'fault') {
      this.#faults.push({
        kind: event.fault ?? '?',
        target: event.target ?? '?',
        start: event.start,
        end: event.end,
        detail: event.detail ?? '',
      });
    }
    for (const id of event.tasks ?? []) push(this.#byTask, id, event);
    for (const nonce of event.nonces ?? []) push(this.#byNonce, nonce, event);
    return event;
  }

  forTask(id: string): readonly HistoryEvent[] {
    return this.#byTask.get(id) ?? [];
  }

  forNonce(nonce: string): readonly HistoryEvent[] {
    return this.#byNonce.get(nonce) ?? [];
  }

  /** Every fault so far, in the order they began. */
  faults(): readonly FaultWindow[] {
    return this.#faults;
  }

  /** Milliseconds since the start of the run, for printing. */
  rel(t: number): string {
    return `+${((t - this.t0) / 1000).toFixed(3)}s`;
  }

  format(event: HistoryEvent): string {
    const parts = [
      `${this.rel(event.start)}..${this.rel(event.end)}`,
      event.fault ? `fault ${event.fault}` : event.kind,
      event.target ?? '',
      event.http !== undefined ? `http ${event.http}` : '',
      event.status ?? '',
      event.result !== undefined ? `result ${event.result}` : '',
      event.detail ?? '',
    ];
    return parts.filter(Boolean).join('  ');
  }

  /** Writes every event as one JSON line, for tools and for a replay's diff. */
  write(path: string): void {
    writeFileSync(path, `${this.events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
