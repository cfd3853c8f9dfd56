/**
 * The nemesis: a seeded schedule of faults, carried out one at a time on the
 * real processes, each healed before the next begins (so every fault in the
 * history has a clear window). Faults: kill -9, SIGSTOP/SIGCONT and
 * graceful restarts of workers and servers; Redis CLIENT PAUSE, kill and
 * restart on its append-only file, dropped connections and refused writes;
 * and a rogue worker with the token.
 */

import type { History } from './history.js';
import { sleep } from './load.js';
import { Prng } from './prng.js';
import { redisCli } from './redis-control.js';
import { ROGUE_BEHAVIOURS, runRogue } from './rogue-worker.js';
import type { ServerSlot, Topology, WorkerSlot } from './topology.js';

export const FAULT_KINDS = [
  'worker-kill',
  'worker-stop',
  'server-kill',
  'server-stop',
  'server-term',
  'redis-pause',
  'redis-kill',
  'redis-drop',
  'redis-oom',
  'rogue',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that touch every task at once (the shared store). */
export const GLOBAL_FAULTS: ReadonlySet<string> = new Set([
  'redis-pause',
  'redis-kill',
  'redis-drop',
  'redis-oom',
]);

export interface FaultPlan {
  index: number;
  atMs: number;
  kind: FaultKind;
  /** Worker or server slot (or the server a rogue connects to). */
  target: number;
  durationMs: number;
  variant: string;
}

export interface FaultOptions {
  seed: number;
  durationMs: number;
  leaseMs: number;
  gapMs: readonly [number, number];
  workers: number;
  weights: Readonly<Record<FaultKind, number>>;
  /** Go through every kind (with a weight) in a seeded order before repeating one: short runs see them all. */
  cycle: boolean;
}

export function planFaults(o: FaultOptions): FaultPlan[] {
  const prng = Prng.stream(o.seed, 'faults');
  const plan: FaultPlan[] = [];
  let at = prng.int(1500, 3000);
  const lease = o.leaseMs;
  let deck: FaultKind[] = [];
  const draw = (): FaultKind => {
    if (!o.cycle) return prng.weighted(o.weights);
    if (deck.length === 0) {
      deck = FAULT_KINDS.filter((k) => o.weights[k] > 0);
      // Fisher–Yates with the plan's stream.
      for (let i = deck.length - 1; i > 0; i--) {
        const j = prng.int(0, i);
        [deck[i], deck[j]] = [deck[j] as FaultKind, deck[i] as FaultKind];
      }
    }
    return deck.shift() as FaultKind;
  };
  while (at < o.durationMs) {
    const kind = draw();
    let target = 0;
    let durationMs = 0;
    let variant = '';
    switch (kind) {
      case 'worker-kill':
        target = prng.int(0, o.workers - 1);
        durationMs = prng.int(300, 2500);
        break;
      case 'worker-stop':
        target = prng.int(0, o.workers - 1);
        durationMs = prng.int(lease + 500, 2 * lease + 1000);
        break;
      case 'server-kill':
        target = prng.int(0, 1);
        durationMs = prng.int(300, 2500);
        break;
      case 'server-stop':
        // Longer than a lease: the other server must take its tasks over.
        target = prng.int(0, 1);
        durationMs = prng.int(lease + 1000, 2 * lease + 1000);
        break;
      case 'server-term':
        target = prng.int(0, 1);
        durationMs = prng.int(200, 1500);
        break;
      case 'redis-pause':
        durationMs = prng.int(1000, 4000);
        break;
      case 'redis-kill':
        durationMs = prng.int(300, 2000);
        variant = prng.pick(['SIGKILL', 'SIGTERM']);
        break;
      case 'redis-drop':
        variant = prng.pick(['normal', 'pubsub']);
        break;
      case 'redis-oom':
        durationMs = prng.int(1000, 3000);
        break;
      case 'rogue':
        target = prng.int(0, 1);
        durationMs = prng.int(2000, 5000);
        variant = prng.pick(ROGUE_BEHAVIOURS);
        // Bad results need tasks: the push server hands them to an idle worker
        // at once, while pull workers that already wait are served first.
        if (variant === 'surrogate' || variant === 'oversized') target = 0;
        break;
      default: {
        const never: never = kind;
        throw new Error(`unknown fault ${String(never)}`);
      }
    }
    plan.push({ index: plan.length, atMs: at, kind, target, durationMs, variant });
    at += durationMs + prng.int(o.gapMs[0], o.gapMs[1]);
  }
  return plan;
}

export interface NemesisContext {
  topology: Topology;
  history: History;
  seed: number;
  foreignIds: () => string[];
  onRogueTasks: (ids: string[]) => void;
  /** Submits a few quick tasks to a server, so a rogue that waits for work gets some. */
  bait: (server: number) => void;
  log: (line: string) => void;
}

export class Nemesis {
  readonly #ctx: NemesisContext;
  #stopped = false;
  readonly counts = new Map<string, number>();
  /** Rogue episodes whose frames the server did not refuse as it should. */
  readonly rogueNotes: string[] = [];

  constructor(ctx: NemesisContext) {
    this.#ctx = ctx;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Carries out the plan in order; returns when it ends or after `stop()` (the current fault heals first). */
  async run(plan: readonly FaultPlan[], t0: number): Promise<void> {
    for (const fault of plan) {
      while (!this.#stopped && Date.now() < t0 + fault.atMs) await sleep(50);
      if (this.#stopped) return;
      const start = Date.now();
      let detail: string;
      try {
        detail = await this.#apply(fault);
      } catch (error) {
        detail = `failed: ${(error as Error).message}`;
      }
      this.counts.set(fault.kind, (this.counts.get(fault.kind) ?? 0) + 1);
      this.#ctx.history.record({
        kind: 'fault',
        fault: fault.kind,
        start,
        end: Date.now(),
        target: this.#target(fault),
        detail: `#${fault.index} ${detail}`,
      });
      this.#ctx.log(`  fault #${fault.index} ${fault.kind} ${this.#target(fault)}: ${detail}`);
    }
  }

  #target(fault: FaultPlan): string {
    const { topology } = this.#ctx;
    if (fault.kind.startsWith('worker'))
      return (topology.workers[fault.target] as WorkerSlot).label;
    if (fault.kind.startsWith('server'))
      return (topology.servers[fault.target] as ServerSlot).label;
    if (fault.kind === 'rogue')
      return `rogue@${(topology.servers[fault.target] as ServerSlot).label}`;
    return 'redis';
  }

  async #apply(fault: FaultPlan): Promise<string> {
    const { topology } = this.#ctx;
    const port = topology.redis.port;
    const d = fault.durationMs;
    switch (fault.kind) {
      case 'worker-kill': {
        const slot = topology.workers[fault.target] as WorkerSlot;
        const pid = await topology.signal(slot, 'SIGKILL');
        await sleep(d);
        await topology.startWorker(slot, false);
        return `kill -9 pid ${pid}, restarted after ${d} ms`;
      }
      case 'worker-stop': {
        const slot = topology.workers[fault.target] as WorkerSlot;
        const pid = await topology.signal(slot, 'SIGSTOP');
        await sleep(d);
        await topology.signal(slot, 'SIGCONT');
        return `SIGSTOP pid ${pid} for ${d} ms`;
      }
      case 'server-kill':
      case 'server-term': {
        const slot = topology.servers[fault.target] as ServerSlot;
        const signal = fault.kind === 'server-kill' ? 'SIGKILL' : 'SIGTERM';
        const pid = await topology.signal(slot, signal);
        await sleep(d);
        await topology.startServer(slot);
        return `${signal} pid ${pid}, restarted after ${d} ms`;
      }
      case 'server-stop': {
        const slot = topology.servers[fault.target] as ServerSlot;
        const pid = await topology.signal(slot, 'SIGSTOP');
        await sleep(d);
        await topology.signal(slot, 'SIGCONT');
        return `SIGSTOP pid ${pid} for ${d} ms`;
      }
      case 'redis-pause':
        await redisCli(port, ['CLIENT', 'PAUSE', String(d), 'ALL']);
        await sleep(d);
        return `CLIENT PAUSE ${d} ALL`;
      case 'redis-kill': {
        const pid = await topology.killRedis(fault.variant as NodeJS.Signals);
        await sleep(d);
        await topology.restartRedis();
        return `${fault.variant} pid ${pid}, restarted on its AOF after ${d} ms`;
      }
      case 'redis-drop': {
        const n = await redisCli(port, ['CLIENT', 'KILL', 'TYPE', fault.variant]);
        return `CLIENT KILL TYPE ${fault.variant} (${n} connections)`;
      }
      case 'redis-oom':
        // Every write is refused with OOM while reads go on: command errors.
        await redisCli(port, ['CONFIG', 'SET', 'maxmemory', '1']);
        await sleep(d);
        await redisCli(port, ['CONFIG', 'SET', 'maxmemory', '0']);
        return `maxmemory 1 (writes refused) for ${d} ms`;
      case 'rogue': {
        const slot = topology.servers[fault.target] as ServerSlot;
        const report = await runRogue({
          wsUrl: slot.wsUrl,
          token: topology.options.token,
          behaviour: fault.variant as (typeof ROGUE_BEHAVIOURS)[number],
          durationMs: d,
          prng: Prng.stream(this.#ctx.seed, `rogue:${fault.index}`),
          foreignIds: this.#ctx.foreignIds,
          onTasks: this.#ctx.onRogueTasks,
          onWelcome: () => {
            if (fault.variant === 'surrogate' || fault.variant === 'oversized')
              this.#ctx.bait(fault.target);
          },
        });
        const text = `${fault.variant}: ${report.detail}; got ${report.received.length} task(s), sent ${report.sent} result(s)${report.closedByServer !== undefined ? `, closed by server (${report.closedByServer})` : ''}`;
        if (fault.variant === 'malformed' && report.closedByServer === undefined) {
          this.rogueNotes.push(`fault #${fault.index}: ${text}`);
        }
        return text;
      }
      default: {
        const never: never = fault.kind;
        throw new Error(`unknown fault ${String(never)}`);
      }
    }
  }
}
