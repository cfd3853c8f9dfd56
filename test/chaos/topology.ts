/**
 * The processes a chaos run faults: one redis-server with an append-only
 * file, two taskgrid servers on it under one prefix (one push, one pull; the
 * three-server run asks for three), and two worker processes per server, all real processes of the built CLI.
 * Each server keeps its port across restarts, so workers and clients find it
 * again the way they would in production.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  runCli,
  type ServerProcess,
  type Spawned,
  startServer,
  waitForOutput,
} from '../helpers/processes.js';
import { freePort, TestRedis } from '../helpers/redis-server.js';
import { killRedis, redisPid } from './redis-control.js';

export interface TopologyOptions {
  prefix: string;
  token: string;
  leaseMs: number;
  heartbeatMs: number;
  heartbeatTolerance: number;
  /** Server default timeout: larger than any kind's own, so a lost function timeout shows. */
  taskTimeoutMs: number;
  maxAttempts: number;
  workersPerServer: number;
  workerThreads: number;
  /** One server per entry, in this mode; default push and pull (the chaos run's two). */
  modes?: readonly ('push' | 'pull')[];
  /** The servers shard the store over this cluster instead of the run's own Redis. */
  cluster?: { seeds: string; shards: number } | undefined;
}

export type ProcState = 'up' | 'stopped' | 'down';

export class ServerSlot {
  readonly label: string;
  readonly mode: 'push' | 'pull';
  readonly port: number;
  proc: ServerProcess | undefined;
  state: ProcState = 'down';
  /** Every process this slot ran, for the id → label map. */
  readonly history: Spawned[] = [];
  constructor(label: string, mode: 'push' | 'pull', port: number) {
    this.label = label;
    this.mode = mode;
    this.port = port;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }
}

export class WorkerSlot {
  readonly label: string;
  readonly server: ServerSlot;
  proc: Spawned | undefined;
  state: ProcState = 'down';
  readonly history: Spawned[] = [];
  constructor(label: string, server: ServerSlot) {
    this.label = label;
    this.server = server;
  }
}

export class Topology {
  readonly options: TopologyOptions;
  readonly redis: TestRedis;
  readonly servers: readonly ServerSlot[];
  readonly workers: readonly WorkerSlot[];
  redisState: ProcState = 'up';
  /** Server instance id or worker id → the slot label that ran it. */
  readonly #ids = new Map<string, string>();
  #scannedAt = 0;
  #redisPid: number | undefined;
  /** Kills every process of the run if the harness itself exits early (Ctrl-C, a crash). */
  readonly #onExit = () => {
    for (const slot of [...this.servers, ...this.workers]) {
      const child = slot.proc?.child;
      if (child && child.exitCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    }
    if (this.#redisPid !== undefined) {
      try {
        process.kill(this.#redisPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  private constructor(
    options: TopologyOptions,
    redis: TestRedis,
    servers: ServerSlot[],
    workers: WorkerSlot[],
  ) {
    this.options = options;
    this.redis = redis;
    this.servers = servers;
    this.workers = workers;
  }

  static async start(options: TopologyOptions): Promise<Topology> {
    // appendfsync always: a Redis kill loses nothing acknowledged, so what the
    // checker finds is the grid's doing, not Redis's persistence setting.
    const redis = await TestRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    const servers: ServerSlot[] = [];
    for (const mode of options.modes ?? (['push', 'pull'] as const)) {
      servers.push(new ServerSlot(`server${servers.length}`, mode, await freePort()));
    }
    const workers: WorkerSlot[] = [];
    for (const server of servers) {
      for (let i = 0; i < options.workersPerServer; i++) {
        workers.push(new WorkerSlot(`worker${workers.length}`, server));
      }
    }
    const topology = new Topology(options, redis, servers, workers);
    topology.#redisPid = await redisPid(redis.port);
    process.once('exit', topology.#onExit);
    await Promise.all(servers.map((server) => topology.startServer(server)));
    await Promise.all(workers.map((w) => topology.startWorker(w, true)));
    return topology;
  }

  async startServer(slot: ServerSlot): Promise<void> {
    const o = this.options;
    const proc = await startServer([
      '--port',
      String(slot.port),
      '--mode',
      slot.mode,
      ...(o.cluster
        ? ['--redis-cluster', o.cluster.seeds, '--shards', String(o.cluster.shards)]
        : ['--redis', this.redis.url]),
      '--prefix',
      o.prefix,
      '--token',
      o.token,
      '--lease',
      String(o.leaseMs),
      '--heartbeat',
      String(o.heartbeatMs),
      '--heartbeat-tolerance',
      String(o.heartbeatTolerance),
      '--task-timeout',
      String(o.taskTimeoutMs),
      '--max-attempts',
      String(o.maxAttempts),
    ]);
    slot.proc = proc;
    slot.history.push(proc);
    slot.state = 'up';
  }

  /** Starts a worker process; waits for its handshake only when asked (its server may be down). */
  async startWorker(slot: WorkerSlot, waitConnected: boolean): Promise<void> {
    const proc = runCli([
      'worker',
      '--url',
      slot.server.wsUrl,
      '--threads',
      String(this.options.workerThreads),
      '--token',
      this.options.token,
    ]);
    slot.proc = proc;
    slot.history.push(proc);
    slot.state = 'up';
    if (waitConnected) await waitForOutput(proc, /connected to server/);
  }

  async restartRedis(): Promise<void> {
    await this.redis.run();
    this.#redisPid = await redisPid(this.redis.port);
    this.redisState = 'up';
  }

  async killRedis(signal: NodeJS.Signals): Promise<number> {
    this.redisState = 'down';
    return killRedis(this.redis.port, signal);
  }

  /** Sends a signal to a slot's process and records its state; waits for the exit of a kill. */
  async signal(slot: ServerSlot | WorkerSlot, signal: NodeJS.Signals): Promise<number | undefined> {
    const proc = slot.proc;
    if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return undefined;
    const pid = proc.child.pid;
    proc.child.kill(signal);
    if (signal === 'SIGSTOP') slot.state = 'stopped';
    else if (signal === 'SIGCONT') slot.state = 'up';
    else {
      // A stopped process only acts on a signal once continued.
      if (slot.state === 'stopped') proc.child.kill('SIGCONT');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000);
      await proc.exited;
      clearTimeout(timer);
      slot.state = 'down';
      slot.proc = undefined;
    }
    return pid;
  }

  /** Undoes every fault still in effect: continues stopped processes, restarts dead ones. */
  async heal(): Promise<void> {
    if (this.redisState === 'down') await this.restartRedis();
    for (const slot of [...this.servers, ...this.workers]) {
      if (slot.state === 'stopped') await this.signal(slot, 'SIGCONT');
    }
    for (const slot of this.servers) if (slot.state === 'down') await this.startServer(slot);
    for (const slot of this.workers) {
      if (slot.state === 'down' || slot.proc?.child.exitCode != null)
        await this.startWorker(slot, false);
    }
  }

  /** Labels of the processes behind a lease owner `<instance>/<worker>`. */
  ownerLabels(owner: string): string[] {
    const [instance = '', worker = ''] = owner.split('/');
    // Ids no process printed (a rogue's) stay unknown: rescan at most once a second.
    if ((!this.#ids.has(instance) || !this.#ids.has(worker)) && Date.now() - this.#scannedAt > 1000)
      this.#scanIds();
    return [this.#ids.get(instance), this.#ids.get(worker)].filter((x): x is string => !!x);
  }

  #scanIds(): void {
    this.#scannedAt = Date.now();
    for (const slot of this.servers) {
      for (const proc of slot.history) {
        for (const m of proc.output().matchAll(/"instance":"([^"]+)"/g))
          this.#ids.set(m[1] as string, slot.label);
      }
    }
    for (const slot of this.workers) {
      for (const proc of slot.history) {
        for (const m of proc.output().matchAll(/"worker":"([^"]+)"[^\n]*connected to server/g))
          this.#ids.set(m[1] as string, slot.label);
      }
    }
  }

  /** VmRSS in KiB of each running server process. */
  serverRss(): { label: string; kib: number }[] {
    const out: { label: string; kib: number }[] = [];
    for (const slot of this.servers) {
      const kib = rssKib(slot.proc?.child.pid);
      if (kib !== undefined) out.push({ label: slot.label, kib });
    }
    return out;
  }

  /** Writes what every process printed to `dir` (TASKGRID_CHAOS_LOGS), one file per process. */
  dumpLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const slot of [...this.servers, ...this.workers]) {
      slot.history.forEach((proc, i) => {
        writeFileSync(join(dir, `${slot.label}.${i}.log`), proc.output());
      });
    }
  }

  async close(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    const logs = process.env.TASKGRID_CHAOS_LOGS;
    if (logs) this.dumpLogs(logs);
    for (const slot of [...this.servers, ...this.workers]) {
      const child = slot.proc?.child;
      if (child && child.exitCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    }
    await Promise.all(
      [...this.servers, ...this.workers].map((s) => s.proc?.exited ?? Promise.resolve(null)),
    );
    await this.redis.destroy();
  }
}

function rssKib(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = status.match(/VmRSS:\s+(\d+)/);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
