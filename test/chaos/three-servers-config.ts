/**
 * The settings of the three-server run (issue 15, part 3): three servers on
 * one Redis, no-op tasks that name their nonce submitted round robin in
 * batches, one server kill -9'd and restarted, one worker of another server
 * killed, then the chaos checker. Two presets: the command-line run
 * (`npm run chaos -- --preset three`, 100,000 tasks) and the one inside
 * `npm test` (test/three-servers.test.ts).
 */

export type ServerMode = 'push' | 'pull';

export interface ThreeServersConfig {
  seed: number;
  tasks: number;
  /** Tasks per POST /execute_batch. */
  batchSize: number;
  /** The batches are sent evenly over this long; both faults fall inside it. */
  submitMs: number;
  /** Batches sent at once shortly before each fault, so it finds a backlog. */
  burstBatches: number;
  /** How long before each fault its burst is sent. */
  burstLeadMs: number;
  modes: readonly ServerMode[];
  leaseMs: number;
  heartbeatMs: number;
  heartbeatTolerance: number;
  serverTimeoutMs: number;
  maxAttempts: number;
  workersPerServer: number;
  workerThreads: number;
  /** Sends of one batch (to the next server each time) before its client gives up. */
  maxTries: number;
  /** One task in this many (seeded by its nonce) gets a long-poller and a subscriber per server. */
  watchEvery: number;
  /** How long the killed server stays down before its restart, [min, max]. */
  serverDownMs: readonly [number, number];
  /** How long the killed worker stays down before its restart, [min, max]. */
  workerDownMs: readonly [number, number];
  /** Each victim is frozen (SIGSTOP) this long before its leases are read and it is kill -9'd. */
  freezeMs: number;
  /** How often the lease holders are read. */
  sampleMs: number;
  pollWaitMs: number;
  /** How late a parked long-poll may wake after the store recorded the outcome. */
  wakeSlackMs: number;
  /** After every task is terminal, how long long-polls and subscribers may take to deliver. */
  settleMs: number;
  /** The stated grace of invariant 1 (beyond timeout + lease). */
  graceMs: number;
  /** A /healthz answer slower than this, with no fault on that server, breaks invariant 5. */
  stallMs: number;
  /** After the last submit, wait at most this long for every task to be terminal. */
  quietCapMs: number;
  historyPath: string | undefined;
  /** Shard the store over a 3-master Redis Cluster started for the run (16 shards). */
  cluster: boolean;
  log: (line: string) => void;
}

export function cliThreeConfig(seed: number, tasks = 100_000): ThreeServersConfig {
  return {
    seed,
    tasks,
    batchSize: 1000,
    // About what this 2-core machine completes in that time (README "Three servers under faults").
    submitMs: Math.max(5000, Math.round(tasks / 6)),
    burstBatches: 6,
    burstLeadMs: 400,
    modes: ['push', 'pull', 'push'],
    leaseMs: 3000,
    // A worker starved of CPU for a few seconds on two shared cores is not lost;
    // a killed one is noticed at once anyway (its socket closes).
    heartbeatMs: 1000,
    heartbeatTolerance: 5,
    serverTimeoutMs: 30_000,
    maxAttempts: 10,
    workersPerServer: 2,
    workerThreads: 2,
    // Keyed clients keep trying through a restart and a busy Redis, as an application would.
    maxTries: 30,
    watchEvery: 200,
    serverDownMs: [500, 2000],
    workerDownMs: [500, 2000],
    freezeMs: 100,
    sampleMs: 300,
    pollWaitMs: 5000,
    // Every core is busy by design: an event loop a second or two behind is load,
    // while a long-poll that never wakes still answers only at its 5 s deadline.
    wakeSlackMs: 3000,
    settleMs: 8000,
    graceMs: 10_000,
    stallMs: 1000,
    quietCapMs: 60_000,
    historyPath: undefined,
    cluster: false,
    log: (line) => console.log(line),
  };
}

/**
 * The run inside `npm test` (test/three-servers.test.ts): the same tasks at
 * about half the pace the grid keeps alone on this machine, since mocha runs
 * another test file beside it on the two cores.
 */
export function testThreeConfig(
  seed: number,
  tasks: number,
  log: (line: string) => void,
): ThreeServersConfig {
  return {
    ...cliThreeConfig(seed, tasks),
    submitMs: Math.max(5000, Math.round(tasks / 3.3)),
    quietCapMs: 30_000,
    settleMs: 4000,
    log,
  };
}
