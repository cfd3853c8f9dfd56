/**
 * `npm run chaos [-- --minutes N --seed S]`: a seeded chaos run against real
 * processes (see README "Chaos run"). Prints the seed first, the invariant
 * table at the end, and on any violation each bad task's history; exits 1
 * on a violation. `--preset three [--tasks N]` is the three-server run
 * instead (README "Three servers under faults").
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { cliConfig, testConfig } from './chaos-config.js';
import { runChaos } from './chaos-run.js';
import { randomSeed } from './prng.js';
import { cliThreeConfig } from './three-servers-config.js';
import { runThreeServers } from './three-servers-run.js';

const program = new Command()
  .name('chaos')
  .option('--minutes <n>', 'minutes of load and faults', '1')
  .option('--seed <n>', 'seed of every choice (default: random, printed first)')
  .option(
    '--preset <name>',
    'cli (default), test (the short run inside npm test) or three (three servers, one killed)',
    'cli',
  )
  .option('--tasks <n>', 'three: tasks to submit', '100000')
  .option('--cluster', 'three: the servers shard the store over a 3-master Redis Cluster')
  .option('--no-faults', 'the same load with no faults (a baseline)')
  .option('--kinds <list>', 'only these task kinds, comma-separated (default: all)')
  .option('--fault-kinds <list>', 'only these faults, comma-separated (default: all)')
  .option('--history <file>', 'where to write the history (JSON lines)')
  .parse();

const flags = program.opts<{
  minutes: string;
  seed?: string;
  preset: string;
  tasks: string;
  cluster?: boolean;
  faults: boolean;
  kinds?: string;
  faultKinds?: string;
  history?: string;
}>();
const minutes = Number(flags.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error(`Expected \`--minutes\` to be a positive number, got \`${flags.minutes}\``);
  process.exit(2);
}
const seed = flags.seed === undefined ? randomSeed() : Number(flags.seed);
if (!Number.isSafeInteger(seed) || seed < 0) {
  console.error(`Expected \`--seed\` to be a whole number, got \`${flags.seed}\``);
  process.exit(2);
}
console.log(`seed ${seed}`);
if (flags.preset !== 'cli' && flags.preset !== 'test' && flags.preset !== 'three') {
  console.error(`Expected \`--preset\` to be cli, test or three, got \`${flags.preset}\``);
  process.exit(2);
}
// Ctrl-C: exit, so the topology's exit hook kills every process it started.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
if (flags.preset === 'three') await runThree(Number(flags.tasks));
// The test preset has its own length; --minutes applies to the cli preset.
const config =
  flags.preset === 'test'
    ? testConfig(seed, (line) => console.log(line))
    : cliConfig(minutes, seed);
config.faults = flags.faults;
try {
  if (flags.kinds) config.weights = only(config.weights, flags.kinds, '--kinds');
  if (flags.faultKinds)
    config.faultWeights = only(config.faultWeights, flags.faultKinds, '--fault-kinds');
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
config.historyPath = flags.history ?? join(tmpdir(), `taskgrid-chaos-${seed}.jsonl`);
const replay = [
  flags.preset === 'test'
    ? `npm run chaos -- --preset test --seed ${seed}`
    : `npm run chaos -- --minutes ${minutes} --seed ${seed}`,
  flags.faults ? '' : '--no-faults',
  flags.kinds ? `--kinds ${flags.kinds}` : '',
  flags.faultKinds ? `--fault-kinds ${flags.faultKinds}` : '',
]
  .filter(Boolean)
  .join(' ');

/** The weights with every key not in `list` set to 0. */
function only<K extends string>(
  weights: Readonly<Record<K, number>>,
  list: string,
  flag: string,
): Record<K, number> {
  const names = list.split(',').map((x) => x.trim());
  const known = Object.keys(weights);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`Expected \`${flag}\` to list some of ${known.join(', ')}; got \`${list}\``);
  }
  const out = { ...weights } as Record<K, number>;
  for (const key of known as K[]) if (!names.includes(key)) out[key] = 0;
  return out;
}

finish(await runChaos(config, replay));

/** Prints a run's table and its violations; exits 1 when there are some. */
function finish(result: { table: string; violations: string }): never {
  console.log(`\n${result.table}`);
  if (result.violations) {
    console.log(`\nseed ${seed}\n${result.violations}`);
    process.exit(1);
  }
  console.log(`\nno violations (seed ${seed})`);
  process.exit(0);
}

/** The three-server run (test/chaos/three-servers-run.ts); exits. */
async function runThree(tasks: number): Promise<never> {
  if (!Number.isSafeInteger(tasks) || tasks <= 0) {
    console.error(`Expected \`--tasks\` to be a positive whole number, got \`${flags.tasks}\``);
    process.exit(2);
  }
  const config = cliThreeConfig(seed, tasks);
  config.cluster = flags.cluster === true;
  config.historyPath = flags.history ?? join(tmpdir(), `taskgrid-three-${seed}.jsonl`);
  const replay = `npm run chaos -- --preset three --tasks ${tasks}${config.cluster ? ' --cluster' : ''} --seed ${seed}`;
  finish(await runThreeServers(config, replay));
}
