/**
 * The settings of a chaos run, with two presets: the command-line run
 * (`npm run chaos`) and the short seeded run inside `npm test`.
 */

import type { FaultKind } from './faults.js';
import type { KindName } from './task-kinds.js';

export interface ChaosConfig {
  seed: number;
  /** Load and faults run this long; then faults heal and the quiet period begins. */
  durationMs: number;
  /** The stated grace of invariant 1 (beyond timeout + lease). */
  graceMs: number;
  /** The quiet period ends when every task is terminal or past its bound, or after this. */
  quietCapMs: number;
  leaseMs: number;
  heartbeatMs: number;
  heartbeatTolerance: number;
  /** Server default timeout; every kind registers a smaller one of its own. */
  serverTimeoutMs: number;
  maxAttempts: number;
  workersPerServer: number;
  workerThreads: number;
  maxOutstanding: number;
  gapMs: readonly [number, number];
  batchChance: number;
  bursts: number;
  keyedShare: number;
  weights: Readonly<Record<KindName, number>>;
  faults: boolean;
  faultGapMs: readonly [number, number];
  /** Every fault kind once, in a seeded order, before any repeats. */
  faultCycle: boolean;
  faultWeights: Readonly<Record<FaultKind, number>>;
  pollWaitMs: number;
  /** After the quiet period, how long long-polls and subscribers may take to deliver what just finished. */
  settleMs: number;
  /** A /healthz answer slower than this, with no fault on that server or the store, breaks invariant 5. */
  stallMs: number;
  historyPath: string | undefined;
  log: (line: string) => void;
}

const WEIGHTS: Record<KindName, number> = {
  noop: 20,
  cpu: 14,
  sleep: 12,
  big: 7,
  throw: 8,
  throwNull: 3,
  timeout: 8,
  cancel: 10,
  lone: 3,
};

const FAULT_WEIGHTS: Record<FaultKind, number> = {
  'worker-kill': 3,
  'worker-stop': 2,
  'server-kill': 2,
  'server-stop': 2,
  'server-term': 2,
  'redis-pause': 2,
  'redis-kill': 1.5,
  'redis-drop': 1,
  'redis-oom': 1,
  rogue: 2.5,
};

export function cliConfig(minutes: number, seed: number): ChaosConfig {
  return {
    seed,
    durationMs: Math.round(minutes * 60_000),
    graceMs: 10_000,
    quietCapMs: 60_000,
    leaseMs: 3000,
    heartbeatMs: 500,
    heartbeatTolerance: 3,
    serverTimeoutMs: 30_000,
    maxAttempts: 10,
    workersPerServer: 2,
    workerThreads: 2,
    maxOutstanding: 24,
    gapMs: [40, 250],
    batchChance: 0.3,
    bursts: Math.max(1, Math.floor(minutes)),
    keyedShare: 0.5,
    weights: WEIGHTS,
    faults: true,
    faultGapMs: [2000, 5000],
    faultCycle: false,
    faultWeights: FAULT_WEIGHTS,
    pollWaitMs: 5000,
    settleMs: 8000,
    stallMs: 1000,
    historyPath: undefined,
    log: (line) => console.log(line),
  };
}

/**
 * The run inside `npm test` (`--preset test` replays it): 25 s, lighter
 * load, no 1 MB bursts, and the faults dealt from a shuffled deck so the
 * short run sees most kinds.
 */
export function testConfig(seed: number, log: (line: string) => void): ChaosConfig {
  return {
    ...cliConfig(25 / 60, seed),
    quietCapMs: 15_000,
    settleMs: 4000,
    maxOutstanding: 16,
    gapMs: [60, 300],
    bursts: 0,
    faultGapMs: [500, 1500],
    faultCycle: true,
    // mocha runs another test file beside it on the two cores (some start a
    // 3-master cluster): a second of lag there is load; a stuck loop stalls far longer.
    stallMs: 1500,
    log,
  };
}
