/**
 * Runs workloads on a real taskgrid cluster (a server process and worker
 * processes) through the public REST API, and measures throughput and
 * per-task latency from the timestamps the store keeps.
 */

import { createClient } from 'redis';
import { TaskGrid } from '../index.js';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from '../test/helpers/grid-client.js';
import {
  killAll,
  type ServerProcess,
  startServer,
  startWorker,
  stop,
} from '../test/helpers/processes.js';
import { CompletionWatcher } from './completion-watcher.js';
import { drawPriorities } from './priority-mix.js';
import type { PriorityWait, RunResult } from './result-types.js';
import { summarize } from './stats.js';
import { payloadBytes, type Workload } from './workloads.js';

export interface ClusterShape {
  mode: 'push' | 'pull' | 'local';
  workers: number;
  threadsPerWorker: number;
}

export class GridCluster {
  readonly shape: ClusterShape;
  readonly grid: GridClient;
  readonly prefix: string;
  readonly redisUrl: string;
  /** The worker processes' ids (none in local mode). */
  readonly workerPids: readonly number[];
  readonly #functions = new Map<string, string>();
  readonly #serverArgs: string[];
  #server: ServerProcess;

  private constructor(
    shape: ClusterShape,
    server: ServerProcess,
    serverArgs: string[],
    prefix: string,
    redisUrl: string,
    workerPids: readonly number[],
  ) {
    this.shape = shape;
    this.workerPids = workerPids;
    this.#server = server;
    this.#serverArgs = serverArgs;
    this.grid = new GridClient(server.url);
    this.prefix = prefix;
    this.redisUrl = redisUrl;
  }

  /** Starts a server and `shape.workers` worker processes (none for a swarm: the caller brings it). */
  static async start(
    shape: ClusterShape,
    redisUrl: string,
    extra: string[] = [],
  ): Promise<GridCluster> {
    const prefix = `perf${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
    const args = ['--mode', shape.mode, '--redis', redisUrl, '--prefix', prefix, ...extra];
    // Local mode: "workers" are threads inside the server.
    if (shape.mode === 'local')
      args.push('--threads', String(shape.workers * shape.threadsPerWorker));
    const server = await startServer(args, { TASKGRID_LOG_LEVEL: 'info' });
    const workers =
      shape.mode === 'local'
        ? []
        : await Promise.all(
            Array.from({ length: shape.workers }, () =>
              startWorker(server.wsUrl, ['--threads', String(shape.threadsPerWorker)]),
            ),
          );
    const pids = workers.map((w) => w.child.pid ?? 0);
    return new GridCluster(shape, server, args, prefix, redisUrl, pids);
  }

  get server(): ServerProcess {
    return this.#server;
  }

  async functionFor(workload: Workload): Promise<string> {
    let id = this.#functions.get(workload.name);
    if (!id) {
      id = await this.grid.register(workload.source, workload.name);
      this.#functions.set(workload.name, id);
    }
    return id;
  }

  /** kill -9 of the server; resolves once it is gone. */
  async killServer(): Promise<void> {
    await stop(this.#server, 'SIGKILL');
  }

  /**
   * Starts the server again with the same arguments (start the cluster with
   * `--port <n>` to have it come back where its workers reconnect).
   */
  async restartServer(): Promise<void> {
    this.#server = await startServer(this.#serverArgs, { TASKGRID_LOG_LEVEL: 'info' });
  }

  /** Stops every process and deletes the run's keys, so a long study does not fill Redis. */
  async stop(): Promise<void> {
    await stop(this.#server);
    await killAll();
    await dropKeys(this.redisUrl, this.prefix);
  }
}

async function dropKeys(redisUrl: string, prefix: string): Promise<void> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.unlink(keys);
    }
  } finally {
    await client.close();
  }
}

export interface Stamps {
  created: number;
  started: number;
  finished: number;
}

/** Each task's stored submit, start and finish times (ms since the epoch). */
export async function readStamps(
  redisUrl: string,
  prefix: string,
  ids: readonly string[],
): Promise<Stamps[]> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const out: Stamps[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const multi = client.multi();
      for (const id of ids.slice(i, i + 1000)) {
        multi.hmGet(`${prefix}task:${id}`, ['created', 'started', 'finished']);
      }
      const rows = (await multi.exec()) as unknown as (string | null)[][];
      for (const [created, started, finished] of rows) {
        out.push({
          created: Number(created),
          started: Number(started),
          finished: Number(finished),
        });
      }
    }
    return out;
  } finally {
    await client.close();
  }
}

/** Checks the results of about `sample` of the tasks (all of them when fewer); returns how many. */
export async function verify(
  grid: GridClient,
  ids: readonly string[],
  workload: Workload,
  sample: number,
): Promise<number> {
  const step = Math.max(1, Math.floor(ids.length / sample));
  const expected = JSON.stringify(workload.expected(workload.args()));
  let ok = 0;
  for (let i = 0; i < ids.length; i += step) {
    const body = await grid.wait(ids[i] as string, 30_000);
    if (
      body.status !== 'COMPLETED' ||
      JSON.stringify(deserialize(body.result as string)) !== expected
    ) {
      throw new Error(`task ${ids[i]} ended ${body.status} with ${body.result?.slice(0, 200)}`);
    }
    ok++;
  }
  return ok;
}

/** The parts of a taskgrid run's result that do not depend on how it was submitted. */
export function gridResult(
  cluster: GridCluster,
  workload: Workload,
  stamps: readonly Stamps[],
): Pick<
  RunResult,
  | 'system'
  | 'mode'
  | 'task'
  | 'workers'
  | 'threads_per_worker'
  | 'queue_wait'
  | 'run_time'
  | 'arg_bytes'
  | 'result_bytes'
> {
  const bytes = payloadBytes(workload);
  return {
    system: 'taskgrid',
    mode: cluster.shape.mode,
    task: workload.name,
    workers: cluster.shape.workers,
    threads_per_worker: cluster.shape.threadsPerWorker,
    queue_wait: summarize(stamps.map((s) => s.started - s.created)),
    run_time: summarize(stamps.map((s) => s.finished - s.started)),
    arg_bytes: bytes.args,
    result_bytes: bytes.result,
  };
}

export interface RunSpec {
  workload: Workload;
  tasks: number;
  scaling: RunResult['scaling'];
  /** Payloads per execute_batch request (default 1000; fewer when they would pass 8 MiB). */
  batchSize?: number;
  /** Each batch with one priority of the seeded mix (priority-mix.ts); absent: no priority sent. */
  mixedPriorities?: boolean;
}

/** Payloads per batch: `wanted`, fewer when they would pass 8 MiB (the server takes 10 MiB). */
function batchFit(wanted: number | undefined, payload: string): number {
  const fit = Math.floor((8 * 1024 * 1024) / (JSON.stringify(payload).length + 8));
  return Math.max(1, Math.min(wanted ?? 1000, fit));
}

/**
 * Submits `tasks` in batches through REST and waits for every one; throughput
 * is tasks ÷ (first submit → last finish announced).
 */
export async function runOnGrid(cluster: GridCluster, spec: RunSpec): Promise<RunResult> {
  const { workload, tasks } = spec;
  const fn = await cluster.functionFor(workload);
  const payload = JSON.stringify(workload.args());
  const watcher = await CompletionWatcher.start(cluster.redisUrl, cluster.prefix);
  const ids: string[] = [];
  const size = batchFit(spec.batchSize, payload);
  // The FIFO runs send no priority field at all: the path with none of issue 16's options.
  const drawn = spec.mixedPriorities ? drawPriorities(Math.ceil(tasks / size)) : undefined;
  const taskPriorities: number[] = [];
  let t0 = 0;
  let t1 = 0;
  try {
    t0 = performance.now();
    for (let i = 0, batch = 0; i < tasks; i += size, batch++) {
      const n = Math.min(size, tasks - i);
      const priority = drawn?.perBatch[batch];
      const reply = await cluster.grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
        function_id: fn,
        payloads: Array.from({ length: n }, () => payload),
        ...(priority === undefined ? {} : { priority }),
      });
      if (reply.status !== 201)
        throw new Error(`batch submit failed: ${JSON.stringify(reply.body)}`);
      ids.push(...reply.body.task_ids);
      if (priority !== undefined) taskPriorities.push(...Array<number>(n).fill(priority));
    }
    await watcher.waitFor(ids, 600_000);
    t1 = Math.max(...ids.map((id) => watcher.finishedAt(id) ?? 0));
  } finally {
    await watcher.close();
  }
  const stamps = await readStamps(cluster.redisUrl, cluster.prefix, ids);
  const verified = await verify(cluster.grid, ids, workload, 50);
  const seconds = (t1 - t0) / 1000;
  return {
    ...gridResult(cluster, workload, stamps),
    scaling: spec.scaling,
    submit: 'batch',
    tasks,
    seconds,
    throughput: tasks / seconds,
    latency: summarize(stamps.map((s) => s.finished - s.created)),
    verified,
    ...(drawn
      ? {
          priority_mix: drawn.mix,
          queue_wait_by_priority: waitByPriority(stamps, taskPriorities),
        }
      : {}),
  };
}

/** submit → start of the tasks of each priority, highest first: shows the mix took effect. */
function waitByPriority(stamps: readonly Stamps[], priorities: readonly number[]): PriorityWait[] {
  const waits = new Map<number, number[]>();
  stamps.forEach((s, i) => {
    const p = priorities[i] ?? 0;
    let list = waits.get(p);
    if (!list) {
      list = [];
      waits.set(p, list);
    }
    list.push(s.started - s.created);
  });
  return [...waits.entries()]
    .sort(([a], [b]) => b - a)
    .map(([priority, list]) => ({ priority, tasks: list.length, queue_wait: summarize(list) }));
}

/**
 * Runs `tasks` through the SDK's `fn.map()` (batches in binary submit_batch
 * frames on the client socket, results pushed back on it), as a Node program
 * would; throughput is tasks ÷ (map() called → its last result in hand).
 * Every result is checked.
 */
export async function runMapOnGrid(cluster: GridCluster, spec: RunSpec): Promise<RunResult> {
  const { workload, tasks } = spec;
  const fn = await cluster.functionFor(workload);
  const sdk = new TaskGrid({ url: cluster.server.url });
  let seconds: number;
  try {
    seconds = await mapAll(sdk, fn, workload, tasks, spec.batchSize);
  } finally {
    sdk.close();
  }
  // Newest first: this run's tasks are the first `tasks` (earlier runs of the function follow).
  const ids = (await functionTaskIds(cluster.grid, fn)).slice(0, tasks);
  if (ids.length !== tasks) {
    throw new Error(`expected ${tasks} tasks, the server lists ${ids.length}`);
  }
  const stamps = await readStamps(cluster.redisUrl, cluster.prefix, ids);
  return {
    ...gridResult(cluster, workload, stamps),
    scaling: spec.scaling,
    submit: 'sdk-map',
    tasks,
    seconds,
    throughput: tasks / seconds,
    latency: summarize(stamps.map((s) => s.finished - s.created)),
    verified: tasks,
  };
}

/**
 * `tasks` runs of the workload through `fn.map()` in batches of `batchSize`
 * (fewer when they would pass 8 MiB), every result checked; resolves the
 * seconds from the call to the last result in hand.
 */
export async function mapAll(
  sdk: TaskGrid,
  fn: string,
  workload: Workload,
  tasks: number,
  batchSize?: number,
): Promise<number> {
  const args = workload.args();
  const want = workload.expected(args);
  const expected = JSON.stringify(want);
  // Each result is checked as it comes, inside the timed run, so the check must cost next to
  // nothing (BullMQ's run checks its results after its clock stops): a string or a number by
  // ===, not by JSON.stringify (~100 µs for a 64 KiB string, per result).
  const same =
    typeof want === 'object' && want !== null
      ? (value: unknown) => JSON.stringify(value) === expected
      : (value: unknown) => value === want;
  const size = batchFit(batchSize, JSON.stringify(args));
  const t0 = performance.now();
  const argLists = Array.from({ length: tasks }, () => args);
  for await (const value of sdk.function(fn).map(argLists, { batchSize: size })) {
    if (!same(value)) {
      throw new Error(`a ${workload.name} task returned ${JSON.stringify(value).slice(0, 200)}`);
    }
  }
  return (performance.now() - t0) / 1000;
}

/** Every task of a function, through GET /tasks a page at a time. */
async function functionTaskIds(grid: GridClient, fn: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const query = `function_id=${fn}&limit=1000${cursor === undefined ? '' : `&cursor=${cursor}`}`;
    const page = await grid.call<{ tasks: { task_id: string }[]; next_cursor?: string }>(
      'GET',
      `/tasks?${query}`,
    );
    if (page.status !== 200) throw new Error(`GET /tasks answered ${page.status}`);
    for (const t of page.body.tasks) ids.push(t.task_id);
    cursor = page.body.next_cursor;
  } while (cursor !== undefined);
  return ids;
}
