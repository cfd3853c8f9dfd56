/**
 * The chaos run's only source of randomness: mulberry32, seeded. Every
 * choice (load, faults, rogue behaviour, which server a read goes to) comes
 * from a stream forked off the run's seed by name, so each stream's
 * sequence of choices is the same on a replay however the timing goes.
 */

export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniform float in [0, 1) (mulberry32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A key of `weights`, chosen in proportion to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [key, w] of entries) {
      x -= w;
      if (x < 0) return key;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }

  /** The stream named `label` of a run's seed: the same seed and label give the same stream. */
  static stream(seed: number, label: string): Prng {
    return new Prng(deriveSeed(seed, label));
  }
}

/** FNV-1a of the label mixed with the seed. */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A fresh seed for a run that was given none (printed first, so it can be replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** Runs `body` with a generator of `seed`; a failure names the seed, so it can be replayed. */
export async function withSeed(seed: number, body: (prng: Prng) => Promise<void>): Promise<void> {
  try {
    await body(new Prng(seed));
  } catch (error) {
    console.error(`  seed ${seed} (replay with TASKGRID_TEST_SEED=${seed})`);
    throw error;
  }
}
