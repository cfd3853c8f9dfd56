/**
 * The two faults of the three-server run: one server kill -9'd and
 * restarted on its port (its workers reconnect by themselves), and one
 * worker of another server kill -9'd and restarted. Each victim is frozen
 * (SIGSTOP) just before it dies so the leases it holds can be read: a
 * frozen process changes none of its own, so what is read is exactly what
 * it held when it died, and the tasks that may run twice are known by id.
 * A victim found holding nothing is thawed and tried again (a fault on an
 * idle process tests nothing).
 */

import type { History } from './history.js';
import type { LeaseSampler } from './lease-sampler.js';
import { sleep } from './load.js';
import { Prng } from './prng.js';
import type { ThreeServersConfig } from './three-servers-config.js';
import type { ServerSlot, Topology, WorkerSlot } from './topology.js';

export interface FaultPlan {
  server: number;
  serverAtMs: number;
  serverDownMs: number;
  /** The server one of whose workers dies: the first of them found holding leases then. */
  workerServer: number;
  workerAtMs: number;
  workerDownMs: number;
}

/**
 * Which server dies (at 25–40% of the submits), and on which other server
 * a worker dies (at 55–75%). Not which of its workers: a push server may
 * keep one of them idle while the other has spare credits.
 */
export function planFaults(c: ThreeServersConfig): FaultPlan {
  const prng = Prng.stream(c.seed, 'faults');
  const n = c.modes.length;
  const server = prng.int(0, n - 1);
  return {
    server,
    serverAtMs: prng.int(Math.round(c.submitMs * 0.25), Math.round(c.submitMs * 0.4)),
    serverDownMs: prng.int(c.serverDownMs[0], c.serverDownMs[1]),
    workerServer: (server + prng.int(1, n - 1)) % n,
    workerAtMs: prng.int(Math.round(c.submitMs * 0.55), Math.round(c.submitMs * 0.75)),
    workerDownMs: prng.int(c.workerDownMs[0], c.workerDownMs[1]),
  };
}

export interface Kill {
  kind: 'server-kill' | 'worker-kill';
  target: string;
  /** Ids of the tasks whose leases it held when it died. */
  held: ReadonlySet<string>;
  /** One line for the report. */
  line: string;
}

/** The ids a slot's current process printed: lease owners are `<instance>/<worker id>`. */
function instanceOf(slot: ServerSlot): string {
  return /"instance":"([^"]+)"/.exec(slot.proc?.output() ?? '')?.[1] ?? '?';
}

function workerIdOf(slot: WorkerSlot): string {
  return /"worker":"([^"]+)"[^\n]*connected to server/.exec(slot.proc?.output() ?? '')?.[1] ?? '?';
}

export class ThreeServerFaults {
  readonly kills: Kill[] = [];
  readonly #topology: Topology;
  readonly #sampler: LeaseSampler;
  readonly #history: History;
  readonly #freezeMs: number;
  readonly #log: (line: string) => void;

  constructor(ctx: {
    topology: Topology;
    sampler: LeaseSampler;
    history: History;
    freezeMs: number;
    log: (line: string) => void;
  }) {
    this.#topology = ctx.topology;
    this.#sampler = ctx.sampler;
    this.#history = ctx.history;
    this.#freezeMs = ctx.freezeMs;
    this.#log = ctx.log;
  }

  /** Both faults of the plan, each at its time after `t0`. */
  async run(plan: FaultPlan, t0: number): Promise<void> {
    await Promise.all([this.#killServer(plan, t0), this.#killWorker(plan, t0)]);
  }

  get counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const k of this.kills) out.set(k.kind, (out.get(k.kind) ?? 0) + 1);
    return out;
  }

  async #killServer(plan: FaultPlan, t0: number): Promise<void> {
    await sleep(t0 + plan.serverAtMs - Date.now());
    const victim = this.#topology.servers[plan.server];
    if (!victim) throw new Error(`no server ${plan.server}`);
    const instance = instanceOf(victim);
    const start = Date.now();
    const owns = (_: ServerSlot, owner: string) => owner.startsWith(`${instance}/`);
    const { slot, held, tries } = await this.#freezeHolding([victim], owns);
    await this.#stillHeld(slot, owns, held);
    const pid = await this.#topology.signal(slot, 'SIGKILL');
    await sleep(plan.serverDownMs);
    await this.#topology.startServer(slot);
    this.#record(
      'server-kill',
      slot.label,
      start,
      held,
      `frozen ${tries} × ${this.#freezeMs} ms until seen holding leases, then kill -9 pid ${pid} (${slot.mode}) holding ${held.size}; restarted on port ${slot.port} after ${plan.serverDownMs} ms`,
    );
  }

  async #killWorker(plan: FaultPlan, t0: number): Promise<void> {
    await sleep(t0 + plan.workerAtMs - Date.now());
    const server = this.#topology.servers[plan.workerServer];
    const start = Date.now();
    const owns = (w: WorkerSlot, owner: string) => owner.endsWith(`/${workerIdOf(w)}`);
    const { slot, held, tries } = await this.#freezeHolding(
      this.#topology.workers.filter((w) => w.server === server),
      owns,
    );
    await this.#stillHeld(slot, owns, held);
    const pid = await this.#topology.signal(slot, 'SIGKILL');
    await sleep(plan.workerDownMs);
    await this.#topology.startWorker(slot, false);
    this.#record(
      'worker-kill',
      slot.label,
      start,
      held,
      `frozen ${tries} × ${this.#freezeMs} ms until seen holding leases, then kill -9 pid ${pid} (of ${slot.server.label}, ${slot.server.mode}) holding ${held.size}; restarted after ${plan.workerDownMs} ms`,
    );
  }

  /**
   * Freezes each candidate in turn, reads the leases, and thaws it again
   * unless it holds some; returns the first found holding leases, still
   * frozen (after 5 s, the last one tried, whatever it holds).
   */
  async #freezeHolding<T extends ServerSlot | WorkerSlot>(
    candidates: readonly T[],
    owns: (slot: T, owner: string) => boolean,
  ): Promise<{ slot: T; held: Set<string>; tries: number }> {
    if (candidates.length === 0) throw new Error('no process to fault');
    const until = Date.now() + 5000;
    for (let tries = 1; ; tries++) {
      for (const slot of candidates) {
        await this.#topology.signal(slot, 'SIGSTOP');
        // What it sent before it stopped (results, claims) reaches the store meanwhile.
        await sleep(this.#freezeMs);
        const holders = await this.#sampler.snapshot().catch(() => []);
        const held = new Set(holders.filter((h) => owns(slot, h.owner)).map((h) => h.id));
        if (held.size > 0 || Date.now() > until) return { slot, held, tries };
        await this.#topology.signal(slot, 'SIGCONT');
      }
      await sleep(50);
    }
  }

  /**
   * Adds the leases the frozen victim holds just before it is killed: a
   * frozen worker's server goes on handing it tasks its credits allow (on a
   * slow machine, several between the first read and the kill), and those
   * run again too.
   */
  async #stillHeld<T extends ServerSlot | WorkerSlot>(
    slot: T,
    owns: (slot: T, owner: string) => boolean,
    held: Set<string>,
  ): Promise<void> {
    const holders = await this.#sampler.snapshot().catch(() => []);
    for (const h of holders) if (owns(slot, h.owner)) held.add(h.id);
  }

  #record(kind: Kill['kind'], target: string, start: number, held: Set<string>, detail: string) {
    this.#history.record({ kind: 'fault', fault: kind, start, end: Date.now(), target, detail });
    const line = `${kind} ${target} at ${this.#history.rel(start)}: ${detail}`;
    this.kills.push({ kind, target, held, line });
    this.#log(`  fault ${line}`);
  }
}
