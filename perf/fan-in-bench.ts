/**
 * The 1,000-task fan-in on its own (see fan-in.ts; the harness runs it as
 * `--only fanin`):
 *
 *   npm run -s build && node dist/perf/fan-in-bench.js [--rounds 5] [--threads 2]
 *
 * Writes perf/results/fan-in.json. REDIS_URL uses that Redis instead of a
 * fresh redis-server.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { TestRedis } from '../test/helpers/redis-server.js';
import { runFanIn } from './fan-in.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
    },
  });
  const ownRedis = process.env.REDIS_URL ? undefined : await TestRedis.start();
  const redisUrl = process.env.REDIS_URL || (ownRedis as TestRedis).url;
  try {
    const summary = await runFanIn(redisUrl, Number(values.rounds), Number(values.threads));
    await mkdir('perf/results', { recursive: true });
    await writeFile('perf/results/fan-in.json', `${JSON.stringify(summary, null, 2)}\n`);
    console.log(JSON.stringify(summary.median));
  } finally {
    await ownRedis?.destroy();
  }
}

await main();
