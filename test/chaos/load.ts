/**
 * The client load: a seeded plan of submits (single and batch, to either
 * server, of every task kind), then clients that carry it out the way real
 * ones do. "Keyed" clients send an idempotency key and retry on 503, on a
 * deadline or on a dropped connection; "plain" clients send no key and give
 * up on a 503 (by contract nothing was stored). When the grid does not honour
 * keys yet, keyed clients retry without one and each such retry is counted
 * as unsafe.
 */

import type { History } from './history.js';
import { call, errorText, field } from './http.js';
import { Prng } from './prng.js';
import { type TaskBook, TrackedTask } from './task-book.js';
import {
  type Expectation,
  effectiveTimeout,
  KINDS,
  type KindName,
  type Params,
} from './task-kinds.js';

export interface LoadOptions {
  seed: number;
  durationMs: number;
  leaseMs: number;
  gapMs: readonly [number, number];
  batchChance: number;
  /** Bursts of 36 one-megabyte tasks (four batches of nine) over the run. */
  bursts: number;
  keyedShare: number;
  weights: Readonly<Record<KindName, number>>;
}

export interface OpPlan {
  index: number;
  atMs: number;
  kind: KindName;
  items: Params[];
  server: number;
  keyed: boolean;
  cancel: { afterMs: number; server: number } | undefined;
  retryDelayMs: number;
  burst: boolean;
}

const MAX_TRIES = 6;

/** Every submit of the run, decided up front from the seed. */
export function planLoad(o: LoadOptions): OpPlan[] {
  const prng = Prng.stream(o.seed, 'load');
  const plan: OpPlan[] = [];
  const burstAt = Array.from({ length: o.bursts }, () =>
    prng.int(Math.floor(o.durationMs * 0.2), Math.floor(o.durationMs * 0.7)),
  );
  let at = 500;
  while (at < o.durationMs) {
    const kind = prng.weighted(o.weights);
    const batch = kind !== 'cancel' && prng.chance(o.batchChance);
    const count = batch ? prng.int(2, kind === 'big' ? 3 : 6) : 1;
    const first = KINDS[kind].params(prng, o.leaseMs);
    // One submit carries one timeout_ms, so a timeout batch shares its params.
    const items = [first];
    for (let i = 1; i < count; i++)
      items.push(kind === 'timeout' ? first : KINDS[kind].params(prng, o.leaseMs));
    const server = prng.int(0, 1);
    plan.push({
      index: plan.length,
      atMs: at,
      kind,
      items,
      server,
      keyed: prng.chance(o.keyedShare),
      cancel:
        kind === 'cancel' ? { afterMs: prng.int(0, 2500), server: prng.int(0, 1) } : undefined,
      retryDelayMs: prng.int(300, 1000),
      burst: false,
    });
    while (burstAt.length > 0 && (burstAt[0] as number) <= at) {
      burstAt.shift();
      for (let b = 0; b < 4; b++) {
        plan.push({
          index: plan.length,
          atMs: at,
          kind: 'big',
          items: Array.from({ length: 9 }, () => KINDS.big.params(prng, o.leaseMs)),
          server: prng.int(0, 1),
          keyed: true,
          cancel: undefined,
          retryDelayMs: prng.int(300, 1000),
          burst: true,
        });
      }
    }
    at += prng.int(o.gapMs[0], o.gapMs[1]);
  }
  return plan;
}

export interface LoadContext {
  book: TaskBook;
  history: History;
  /** Server base URLs by slot. */
  servers: readonly { label: string; url: string }[];
  token: string;
  functionIds: Readonly<Record<KindName, string>>;
  /** Distinguishes this run's idempotency keys. */
  runTag: string;
  /** Tasks still in flight (the plan waits while there are too many). */
  outstanding: () => number;
}

export type KeySupport = 'unknown' | 'supported' | 'unsupported';

export class Load {
  readonly #ctx: LoadContext;
  keys: KeySupport = 'unknown';
  unsafeRetries = 0;
  /** Answers to submits, by HTTP status (or network error). */
  readonly answers = new Map<string, number>();
  readonly cancelAnswers = new Map<string, number>();
  readonly #maxOutstanding: number;
  /** Sends of one submit before its client gives up. */
  readonly #maxTries: number;
  #stopped = false;
  readonly #running = new Set<Promise<void>>();

  constructor(ctx: LoadContext, maxOutstanding: number, maxTries = MAX_TRIES) {
    this.#ctx = ctx;
    this.#maxOutstanding = maxOutstanding;
    this.#maxTries = maxTries;
  }

  /**
   * Submits one no-op twice with the same idempotency key: the same task id
   * twice means keys work; a 422, or two ids, means this grid ignores them.
   */
  async probeIdempotency(): Promise<KeySupport> {
    const { functionIds, token, servers, history } = this.#ctx;
    const server = servers[0] as { label: string; url: string };
    const body = {
      function_id: functionIds.noop,
      payload: JSON.stringify(['probe.0.0']),
      idempotency_key: `${this.#ctx.runTag}-probe`,
    };
    const ids: string[] = [];
    let rejected = false;
    for (let i = 0; i < 2; i++) {
      const start = Date.now();
      const answer = await call(server.url, token, 'POST', '/execute_function', body, 5000);
      const id = field(answer.body, 'task_id');
      history.record({
        kind: 'probe',
        start,
        end: Date.now(),
        target: server.label,
        http: answer.status,
        tasks: typeof id === 'string' ? [id] : [],
        detail: `idempotency probe ${i + 1}/2 ${errorText(answer.body)}`,
      });
      if (answer.status === 422) rejected = true;
      if (typeof id === 'string' && answer.status < 300) {
        ids.push(id);
        this.#accept(id, 'probe.0.0', 'noop', [], -1, start, server.label, undefined);
      }
    }
    this.keys = !rejected && ids.length === 2 && ids[0] === ids[1] ? 'supported' : 'unsupported';
    return this.keys;
  }

  /** Carries out the plan until it ends or `stop()`; resolves when every started op ended. */
  async run(plan: readonly OpPlan[], t0: number): Promise<void> {
    for (const op of plan) {
      const wait = t0 + op.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      if (this.#stopped) break;
      const running = this.#runOp(op).finally(() => this.#running.delete(running));
      this.#running.add(running);
    }
    await this.drain();
  }

  stop(): void {
    this.#stopped = true;
  }

  #baits = 0;
  /** Four no-ops to one server now, outside the plan (numbered from 100000). */
  bait(server: number): void {
    if (this.#stopped) return;
    const op: OpPlan = {
      index: 100_000 + this.#baits++,
      atMs: 0,
      kind: 'noop',
      items: [[], [], [], []],
      server,
      keyed: false,
      cancel: undefined,
      retryDelayMs: 300,
      burst: false,
    };
    const running = this.#runOp(op).finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  async #runOp(op: OpPlan): Promise<void> {
    const { book, outstanding } = this.#ctx;
    // Only long tasks can build a queue: they wait for room; quick ones (and
    // bursts) go at once, so the load goes on through every fault.
    if (KINDS[op.kind].long && !op.burst) {
      while (!this.#stopped && outstanding() >= this.#maxOutstanding) await sleep(25);
      if (this.#stopped) return;
    }
    // Counted before the first await, so waiters that wake together cannot overshoot.
    book.pendingItems += op.items.length;
    try {
      await this.#submit(op);
    } finally {
      book.pendingItems -= op.items.length;
    }
  }

  async #submit(op: OpPlan): Promise<void> {
    const { functionIds, token, servers, history, book, runTag } = this.#ctx;
    const kind = KINDS[op.kind];
    let keyed = op.keyed && this.keys !== 'unsupported';
    let tries = 0;
    for (let attempt = 0; attempt < this.#maxTries + 1 && tries < this.#maxTries; attempt++) {
      tries++;
      // Retries with a key resend the same payload; retries without one are new tasks.
      const tryIndex = keyed ? 0 : tries - 1;
      const nonces = op.items.map((_, i) => `${op.index}.${i}.${tryIndex}`);
      const server = servers[(op.server + tries - 1) % servers.length] as {
        label: string;
        url: string;
      };
      const payloads = op.items.map((params, i) =>
        JSON.stringify(kind.args(nonces[i] as string, params)),
      );
      const submitTimeout =
        op.kind === 'timeout' && (op.items[0]?.[0] ?? 0) > 0 ? op.items[0]?.[0] : undefined;
      const single = op.items.length === 1 && !op.burst;
      const body: Record<string, unknown> = { function_id: functionIds[op.kind] };
      if (single) body.payload = payloads[0];
      else body.payloads = payloads;
      if (submitTimeout !== undefined) body.timeout_ms = submitTimeout;
      if (keyed) {
        if (single) body.idempotency_key = `${runTag}-${op.index}`;
        else body.idempotency_keys = op.items.map((_, i) => `${runTag}-${op.index}-${i}`);
      }
      const start = Date.now();
      const answer = await call(
        server.url,
        token,
        'POST',
        single ? '/execute_function' : '/execute_batch',
        body,
        op.kind === 'big' ? 15_000 : 5000,
      );
      const end = Date.now();
      const ids = single
        ? [field(answer.body, 'task_id')]
        : ((field(answer.body, 'task_ids') as unknown[] | undefined) ?? []);
      const ok = answer.status >= 200 && answer.status < 300;
      const key = answer.status === 0 ? `error ${answer.error}` : String(answer.status);
      this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
      book.noteSubmit(nonces, answer.status);
      history.record({
        kind: 'submit',
        start,
        end,
        target: server.label,
        http: answer.status,
        nonces,
        tasks: ok ? ids.filter((x): x is string => typeof x === 'string') : [],
        detail:
          `op ${op.index} try ${tries} ${op.kind}×${op.items.length} ${keyed ? 'keyed' : 'plain'}${op.burst ? ' burst' : ''} ${answer.error ?? errorText(answer.body)}`.trim(),
      });
      if (ok) {
        op.items.forEach((params, i) => {
          const id = ids[i];
          if (typeof id !== 'string') return;
          this.#accept(id, nonces[i] as string, op.kind, params, op.index, end, server.label, op);
        });
        return;
      }
      if (answer.status === 422 && keyed && /idempotency/i.test(errorText(answer.body))) {
        // This grid does not know the field: nothing was stored; resend without it.
        this.keys = 'unsupported';
        keyed = false;
        tries--;
        continue;
      }
      // A refused connection sent nothing: every client may try the other server.
      if (answer.error === 'ECONNREFUSED') {
        await sleep(op.retryDelayMs);
        continue;
      }
      // 504: the store's connection broke mid-submit, so the task may be stored: only a
      // retry with its key can tell (it answers 200 with the stored task).
      const retriable = answer.status === 503 || answer.status === 504 || answer.status === 0;
      if (!op.keyed || !retriable) return;
      if (!keyed) this.unsafeRetries++;
      await sleep(op.retryDelayMs);
    }
  }

  #accept(
    id: string,
    nonce: string,
    kind: KindName,
    params: Params,
    op: number,
    ackAt: number,
    server: string,
    plan: OpPlan | undefined,
  ): void {
    const { book } = this.#ctx;
    if (book.tasks.has(id)) return;
    const task = new TrackedTask({
      id,
      nonce,
      kind,
      params,
      op,
      ackAt,
      server,
      timeoutMs: effectiveTimeout(kind, params),
      expected: KINDS[kind].expect(nonce, params),
    });
    book.accept(task);
    if (plan?.cancel) {
      const cancel = plan.cancel;
      const running = sleep(cancel.afterMs)
        .then(() => this.#cancel(task, cancel.server))
        .finally(() => this.#running.delete(running));
      this.#running.add(running);
    }
  }

  async #cancel(task: TrackedTask, slot: number): Promise<void> {
    const { servers, token, history } = this.#ctx;
    const server = servers[slot % servers.length] as { label: string; url: string };
    const start = Date.now();
    const answer = await call(server.url, token, 'DELETE', `/task/${task.id}`, undefined, 5000);
    const key = answer.status === 0 ? `error ${answer.error}` : String(answer.status);
    this.cancelAnswers.set(key, (this.cancelAnswers.get(key) ?? 0) + 1);
    history.record({
      kind: 'cancel',
      start,
      end: Date.now(),
      target: server.label,
      http: answer.status,
      tasks: [task.id],
      detail: answer.error ?? errorText(answer.body),
    });
    const completed: Expectation = { status: 'COMPLETED', value: task.nonce };
    if (answer.status === 200) task.expected = { status: 'CANCELLED' };
    else if (answer.status === 409) task.expected = completed;
    else task.expected = { anyOf: [{ status: 'CANCELLED' }, completed] };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
