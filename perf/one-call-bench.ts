/**
 * One call at a time, submit → result, measured by the caller: what a user
 * waits for when they call a function once. Two paths:
 *
 * - rest: `POST /execute_function?wait=30000` through node:http with a
 *   kept-alive connection (keep-alive-client.ts). A server that answers 200
 *   with the finished task (the one-request path of issue 17) is taken at its
 *   word; one that answers 201 with only the id is asked
 *   `GET /result/<id>?wait=30000`, as a REST client does today.
 * - rest-fetch: the same calls through Node's fetch (shown beside it).
 * - sdk: `await fn(x)` through the client SDK, whatever path it takes.
 */

import { TaskGrid } from '../index.js';
import { deserialize } from '../shared/serialize.js';
import { KeepAliveClient } from './keep-alive-client.js';
import type { RunResult } from './result-types.js';
import { summarize } from './stats.js';
import { type GridCluster, gridResult, readStamps } from './taskgrid-bench.js';
import type { Workload } from './workloads.js';

export interface OneCallSpec {
  workload: Workload;
  calls: number;
  via: 'rest' | 'rest-fetch' | 'sdk';
  scaling: RunResult['scaling'];
}

interface TaskReply {
  task_id: string;
  status?: string;
  result?: string;
}

type Call = () => Promise<{ id: string | undefined; value: unknown }>;

/** What both REST clients offer: a JSON call answered with its status and parsed body. */
interface RestClient {
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

function restCall(client: RestClient, fn: string, payload: string): Call {
  return async () => {
    const submitted = await client.call<TaskReply>('POST', '/execute_function?wait=30000', {
      function_id: fn,
      payload,
    });
    let body = submitted.body;
    if (submitted.status === 201 || body.status !== 'COMPLETED') {
      if (submitted.status >= 300) throw new Error(`submit failed: ${JSON.stringify(body)}`);
      body = (await client.call<TaskReply>('GET', `/result/${body.task_id}?wait=30000`)).body;
    }
    if (body.status !== 'COMPLETED') throw new Error(`task ${body.task_id} ended ${body.status}`);
    return { id: body.task_id, value: deserialize(body.result ?? 'null') };
  };
}

function sdkCall(grid: TaskGrid, fn: string, args: unknown[]): Call {
  const remote = grid.function(fn);
  // The SDK does not hand back the task id of a plain call; the run reports client timings only.
  return async () => ({ id: undefined, value: await remote(...args) });
}

export async function runOneCall(cluster: GridCluster, spec: OneCallSpec): Promise<RunResult> {
  const { workload, calls } = spec;
  const fn = await cluster.functionFor(workload);
  const args = workload.args();
  const expected = JSON.stringify(workload.expected(args));
  const sdk = spec.via === 'sdk' ? new TaskGrid({ url: cluster.server.url }) : undefined;
  const http = spec.via === 'rest' ? new KeepAliveClient(cluster.server.url) : undefined;
  const call = sdk
    ? sdkCall(sdk, fn, args)
    : restCall(http ?? cluster.grid, fn, JSON.stringify(args));
  const ids: string[] = [];
  const latency: number[] = [];
  let seconds = 0;
  try {
    // Open connections and compile hot paths first; these calls are not reported.
    for (let i = 0; i < Math.min(20, Math.ceil(calls / 10)); i++) await call();
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const start = performance.now();
      const { id, value } = await call();
      latency.push(performance.now() - start);
      if (JSON.stringify(value) !== expected)
        throw new Error(`call ${i} returned ${JSON.stringify(value).slice(0, 200)}`);
      if (id) ids.push(id);
    }
    seconds = (performance.now() - t0) / 1000;
  } finally {
    sdk?.close();
    http?.close();
  }
  const stamps = await readStamps(cluster.redisUrl, cluster.prefix, ids);
  return {
    ...gridResult(cluster, workload, stamps),
    scaling: spec.scaling,
    submit: spec.via === 'sdk' ? 'sdk' : spec.via === 'rest-fetch' ? 'single-fetch' : 'single',
    tasks: calls,
    seconds,
    throughput: calls / seconds,
    latency: summarize(latency),
    verified: calls,
  };
}
