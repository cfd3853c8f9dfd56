/**
 * One swarm measurement alone, at any size, with its own Redis: what
 * `npm run perf -- --only swarm` runs as one of its steps, for profiling
 * and before/after figures without the whole part. Prints one JSON line.
 *
 *   node dist/perf/swarm-run.js connect 15000 [pull]
 *   node dist/perf/swarm-run.js storm 10000 20000
 *   node dist/perf/swarm-run.js push|pull 10000 50000
 */

import { TestRedis } from '../test/helpers/redis-server.js';
import { runSwarmConnect, runSwarmStorm, runSwarmThroughput } from './swarm-bench.js';

const [part, size, tasks] = process.argv.slice(2);
const connections = Number(size);
if (!Number.isSafeInteger(connections) || connections < 1) {
  throw new Error('usage: swarm-run.js connect|storm|push|pull <connections> [tasks]');
}
const redis = await TestRedis.start();
try {
  const result =
    part === 'connect'
      ? await runSwarmConnect(redis.url, connections, tasks === 'pull' ? 'pull' : 'push')
      : part === 'storm'
        ? await runSwarmStorm(redis.url, connections, Number(tasks ?? 20_000))
        : part === 'push' || part === 'pull'
          ? await runSwarmThroughput(redis.url, part, connections, Number(tasks ?? 50_000))
          : undefined;
  if (!result) throw new Error(`unknown part ${part}: connect, storm, push or pull`);
  console.log(JSON.stringify({ part, ...result }));
} finally {
  await redis.destroy();
}
