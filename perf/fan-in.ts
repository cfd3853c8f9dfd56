/**
 * A 1,000-task fan-in (results as arguments): 1,000 no-op maps, then one
 * reduce whose arguments are the 1,000 maps' results (`{"$task": id}` each),
 * on a server process in local mode over Redis. Per round and as medians:
 * the time from the maps' submit to the reduce's result, how long the maps
 * took (first start to last finish, from the store's times), and the
 * release latency, from the last map's finish to the reduce's start (the
 * release in the completion step, the claim and the hand-off to a thread).
 * Run by the harness (`--only fanin`) and by fan-in-bench.ts on its own.
 */

import { performance } from 'node:perf_hooks';
import { GridCluster } from './taskgrid-bench.js';

const FAN_IN = 1000;

export interface Round {
  total_ms: number;
  maps_ms: number;
  release_ms: number;
  reduce_args_bytes: number;
}

interface Listed {
  tasks: { task_id: string; started_at?: number; finished_at?: number }[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function round(cluster: GridCluster, map: string, reduce: string): Promise<Round> {
  const grid = cluster.grid;
  const began = performance.now();
  const ids = await grid.batch(
    map,
    Array.from({ length: FAN_IN }, (_, i) => [i]),
  );
  const payload = JSON.stringify(ids.map((id) => ({ $task: id })));
  const reply = await grid.call<{ task_id: string }>('POST', '/execute_function', {
    function_id: reduce,
    payload,
  });
  if (reply.status !== 201) throw new Error(`reduce submit failed: ${JSON.stringify(reply)}`);
  const value = await grid.value(reply.body.task_id);
  const total = performance.now() - began;
  if (value !== ((FAN_IN - 1) * FAN_IN) / 2) throw new Error(`wrong sum ${String(value)}`);
  const listed = await grid.call<Listed>('GET', `/tasks?function_id=${map}&limit=1000`);
  const wanted = new Set(ids);
  const maps = listed.body.tasks.filter((t) => wanted.has(t.task_id));
  const starts = maps.map((t) => t.started_at ?? Number.NaN);
  const finishes = maps.map((t) => t.finished_at ?? Number.NaN);
  const detail = await grid.call<{ started_at?: number }>('GET', `/task/${reply.body.task_id}`);
  const lastFinish = Math.max(...finishes);
  return {
    total_ms: Math.round(total),
    maps_ms: lastFinish - Math.min(...starts),
    release_ms: (detail.body.started_at ?? Number.NaN) - lastFinish,
    reduce_args_bytes: Buffer.byteLength(payload),
  };
}

export interface FanInResult {
  fan_in: number;
  threads: number;
  rounds: Round[];
  median: { total_ms: number; maps_ms: number; release_ms: number };
}

/** A warm-up round, then `rounds` measured ones, on a local-mode server with `threads` threads. */
export async function runFanIn(
  redisUrl: string,
  rounds: number,
  threads: number,
): Promise<FanInResult> {
  const cluster = await GridCluster.start(
    { mode: 'local', workers: 1, threadsPerWorker: threads },
    redisUrl,
  );
  try {
    const map = await cluster.grid.register('(x) => x', 'map');
    const reduce = await cluster.grid.register(
      '(...xs) => xs.reduce((a, b) => a + b, 0)',
      'reduce',
    );
    await round(cluster, map, reduce); // warm-up
    const results: Round[] = [];
    for (let i = 0; i < rounds; i++) results.push(await round(cluster, map, reduce));
    return {
      fan_in: FAN_IN,
      threads,
      rounds: results,
      median: {
        total_ms: median(results.map((r) => r.total_ms)),
        maps_ms: median(results.map((r) => r.maps_ms)),
        release_ms: median(results.map((r) => r.release_ms)),
      },
    };
  } finally {
    await cluster.stop();
  }
}

/** The report's section. */
export function fanInSection(f: FanInResult | undefined): string[] {
  if (!f) return [];
  return [
    '## A 1,000-task fan-in (issue 13: results as arguments)',
    '',
    `${f.fan_in.toLocaleString('en')} no-op maps, then one reduce whose arguments are their results (\`{"$task": id}\` each), local mode, ${f.threads} threads; medians of ${f.rounds.length} rounds after a warm-up.`,
    '',
    '| maps submit → reduce result (ms) | maps: first start → last finish (ms) | last map finish → reduce start (ms) |',
    '|---|---|---|',
    `| ${f.median.total_ms} | ${f.median.maps_ms} | ${f.median.release_ms} |`,
    '',
  ];
}
