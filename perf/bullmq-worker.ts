/**
 * One BullMQ worker process for the baseline: runs the same workload
 * function as taskgrid, with the given concurrency.
 * Usage: node bullmq-worker.js <redis-url> <queue> <concurrency> <workload>
 */

import { Worker } from 'bullmq';
import { compileWorkload } from './workloads.js';

const [url = '', queue = '', concurrency = '100', task = 'noop'] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const fn = compileWorkload(task);
const worker = new Worker(queue, async (job) => fn(...(job.data.args as unknown[])), {
  connection: { host: hostname, port: Number(port), maxRetriesPerRequest: null },
  concurrency: Number(concurrency),
});
worker.on('ready', () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
