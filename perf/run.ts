/**
 * `npm run perf [-- --quick]`: the scaling study. Starts (or uses) a Redis,
 * real taskgrid servers and worker processes, a worker-protocol swarm, the
 * BullMQ baseline and the raw pools, then writes perf/results/latest/ and
 * prints issue 17's five targets, each met or missed.
 */

import { execFileSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createClient } from 'redis';
import { CHILD_NODE_ARGS_ENV } from '../test/helpers/processes.js';
import { TestRedis } from '../test/helpers/redis-server.js';
import { writeCharts } from './charts.js';
import { clusterStudy } from './cluster-bench.js';
import { fairnessSummary } from './fairness-bench.js';
import { lifecycleSummary } from './lifecycle-report.js';
import { BENCH, FULL, QUICK, TINY } from './plan.js';
import { writeReport } from './report.js';
import { type Collected, PARTS, type Part, studySteps } from './steps.js';
import { targetRows, textTable } from './targets.js';

async function redisVersion(url: string): Promise<string> {
  const client = createClient({ url });
  await client.connect();
  const info = await client.info('server');
  await client.close();
  return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

function count(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(
      `Expected ${flag} to be a whole number above 0, got \`${text}\``,
    );
  }
  return n;
}

function parseParts(text: string): Set<Part> {
  const parts = new Set<Part>();
  for (const name of text.split(',')) {
    const part = PARTS.find((p) => p === name.trim());
    if (!part) {
      throw new InvalidArgumentError(`Expected parts among ${PARTS.join(', ')}, got \`${name}\``);
    }
    parts.add(part);
  }
  return parts;
}

async function main(): Promise<void> {
  const program = new Command('perf')
    .option('--quick', 'a reduced sweep that finishes in a few minutes')
    .option('--bench', "only issue 17's targets against BullMQ and the memory soak (npm run bench)")
    .addOption(
      new Option(
        '--tiny',
        'every part at a token size: checks the harness, not the grid',
      ).hideHelp(),
    )
    .addOption(
      new Option('--only <parts>', `some parts only, comma-separated: ${PARTS.join(', ')}`)
        .argParser(parseParts)
        .hideHelp(),
    )
    .option(
      '--cluster [nodes]',
      'the one-Redis vs Redis Cluster study instead (nodes host:port,…; none: a 3-master cluster started here)',
    )
    .option('--shards <n>', 'with --cluster: shards of the queue (a multiple of the masters)', '24')
    .option('--tasks <n>', 'with --cluster: no-op tasks per run', '30000')
    .option('--servers <n>', 'with --cluster: push servers, each with one 2-thread worker', '2')
    .option(
      '--cpu-prof <dir>',
      'write a V8 CPU profile of every taskgrid server and worker process into <dir>',
    )
    .option(
      '--out <dir>',
      'where to write the results',
      fileURLToPath(new URL('../../perf/results/latest/', import.meta.url)),
    )
    .parse(process.argv);
  const opts = program.opts<{
    quick?: boolean;
    bench?: boolean;
    tiny?: boolean;
    only?: Set<Part>;
    out: string;
    cluster?: string | boolean;
    shards: string;
    tasks: string;
    servers: string;
    cpuProf?: string;
  }>();
  if (opts.cpuProf !== undefined) {
    process.env[CHILD_NODE_ARGS_ENV] = `--cpu-prof --cpu-prof-dir=${resolve(opts.cpuProf)}`;
  }
  if (opts.cluster !== undefined) {
    await clusterStudy({
      nodes: typeof opts.cluster === 'string' ? opts.cluster.split(',') : undefined,
      shards: count('--shards', opts.shards),
      tasks: count('--tasks', opts.tasks),
      servers: count('--servers', opts.servers),
      out: opts.out.replace(/latest\/?$/, 'cluster/'),
    });
    return;
  }
  const plan = opts.tiny ? TINY : opts.bench ? BENCH : opts.quick ? QUICK : FULL;
  const started = new Date().toISOString();
  const ownRedis = process.env.REDIS_URL ? undefined : await TestRedis.start();
  const redisUrl = process.env.REDIS_URL || (ownRedis as TestRedis).url;
  const collected: Collected = { runs: [] };
  const steps = studySteps(plan, redisUrl, opts.only);

  const bar = new SingleBar({
    format: 'perf [{bar}] {value}/{total} {label}',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 5000,
  });
  bar.start(steps.length, 0, { label: '' });
  try {
    for (const step of steps) {
      bar.update({ label: step.label });
      await step.run(collected);
      bar.increment();
    }
  } finally {
    bar.stop();
    await ownRedis?.destroy();
  }

  await rm(opts.out, { recursive: true, force: true });
  await mkdir(opts.out, { recursive: true });
  const charts = await writeCharts(collected.runs, opts.out);
  const command = opts.bench
    ? 'npm run bench'
    : ['npm run perf', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
        ' ',
      );
  const all = await writeReport(
    opts.out,
    {
      command,
      started,
      finished: new Date().toISOString(),
      node: process.version,
      redis: ownRedis
        ? execFileSync('redis-server', ['--version']).toString().trim()
        : await redisVersion(redisUrl),
      quick: plan.name !== 'full',
    },
    collected,
    charts,
  );
  const lifecycle = [...lifecycleSummary(collected), ...fairnessSummary(collected.fairness)];
  process.stdout.write(
    `\n${textTable(['target', 'this run', 'goal', 'met'], targetRows(all))}\n\n` +
      (lifecycle.length > 0 ? `${lifecycle.join('\n')}\n\n` : '') +
      `perf: wrote ${join(opts.out, 'report.md')}, results.json, results.csv and ${charts.length} charts\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`perf: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
