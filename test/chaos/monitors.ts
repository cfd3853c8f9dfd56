/**
 * Two monitors that run beside the load: a /healthz prober on each server
 * (how long a server took to answer anyone, for invariant 5: no input may
 * stop a server serving others) and a sampler of each server's resident
 * memory (VmRSS from /proc).
 */

import { call } from './http.js';
import type { Topology } from './topology.js';

export interface HealthSample {
  server: string;
  start: number;
  end: number;
  http: number;
}

export class HealthProber {
  readonly samples: HealthSample[] = [];
  readonly #topology: Topology;
  #timer: NodeJS.Timeout | undefined;
  readonly #busy = new Set<string>();

  constructor(topology: Topology) {
    this.#topology = topology;
  }

  start(everyMs = 250): void {
    this.#timer = setInterval(() => {
      for (const slot of this.#topology.servers) {
        // One probe per server at a time: a stalled server shows as one long sample.
        if (slot.state !== 'up' || this.#busy.has(slot.label)) continue;
        this.#busy.add(slot.label);
        const start = Date.now();
        void call(slot.url, this.#topology.options.token, 'GET', '/healthz', undefined, 30_000)
          .then((answer) => {
            this.samples.push({ server: slot.label, start, end: Date.now(), http: answer.status });
          })
          .finally(() => this.#busy.delete(slot.label));
      }
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export class RssSampler {
  /** Highest VmRSS seen per server slot, KiB. */
  readonly max = new Map<string, number>();
  readonly series: { at: number; server: string; kib: number }[] = [];
  readonly #topology: Topology;
  #timer: NodeJS.Timeout | undefined;

  constructor(topology: Topology) {
    this.#topology = topology;
  }

  start(everyMs = 1000): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): void {
    const at = Date.now();
    for (const { label, kib } of this.#topology.serverRss()) {
      this.series.push({ at, server: label, kib });
      this.max.set(label, Math.max(kib, this.max.get(label) ?? 0));
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Per server: the first and the last sample, to show growth over the run. */
  firstAndLast(): Map<string, [number, number]> {
    const out = new Map<string, [number, number]>();
    for (const { server, kib } of this.series) {
      const seen = out.get(server);
      out.set(server, seen ? [seen[0], kib] : [kib, kib]);
    }
    return out;
  }
}
