/** `taskgrid worker`: connect to a server's /ws and run its tasks on threads. */

import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { DEFAULT_PREFETCH, DEFAULT_WORKER_URL } from '../shared/defaults.js';
import { pemFileOption } from '../shared/transport-security.js';
import {
  checkSandbox,
  launchSandboxed,
  TOKEN_ON_STDIN,
  tokenFromStdin,
  underPermissionModel,
} from '../worker/sandbox-launch.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, resolveWorkerOptions } from '../worker/worker-options.js';
import { exitOnSignal } from './exit-on-signal.js';
import {
  addOptionFlags,
  type FlagValues,
  givenText,
  inFlagTerms,
  type OptionFlag,
  optionValue,
  setOption,
} from './option-flags.js';

const CLI = fileURLToPath(new URL('./taskgrid.js', import.meta.url));

const TOKEN: OptionFlag = {
  flag: '--token <secret>',
  option: 'token',
  env: 'TASKGRID_TOKEN',
  help: 'the server token',
  text: true,
};

const CA: OptionFlag = {
  flag: '--ca <file>',
  option: 'ca',
  env: 'TASKGRID_CA',
  help: "PEM file of a private CA to trust for a wss:// server's certificate",
  text: true,
};

/** The worker's flags (`--sandbox` is handled here, before the options are built). */
const FLAGS: readonly OptionFlag[] = [
  { flag: '--url <ws-url>', option: 'url', env: 'TASKGRID_URL', help: 'server socket', text: true },
  { flag: '--threads <n>', option: 'threads', env: 'TASKGRID_THREADS', help: 'task threads' },
  {
    flag: '--label <label>',
    option: 'labels',
    env: 'TASKGRID_LABELS',
    help: 'what this worker can run, repeatable (gpu, region=eu): a task runs only on a worker with all its labels',
    list: true,
  },
  TOKEN,
  CA,
  {
    flag: '--prefetch <n>',
    option: 'prefetch',
    help: 'pull mode: tasks asked for per thread at least (more for cheap tasks)',
  },
  {
    flag: '--drain-timeout <ms>',
    option: 'drainTimeoutMs',
    help: 'on SIGTERM, wait this long for running tasks',
  },
];

const DEFAULTS: Record<string, string> = {
  url: DEFAULT_WORKER_URL,
  threads: 'cores',
  prefetch: String(DEFAULT_PREFETCH),
  drainTimeoutMs: String(DEFAULT_DRAIN_TIMEOUT_MS),
};

export function addWorkerCommand(program: Command): void {
  const command = program
    .command('worker')
    .description('run a worker that connects to a taskgrid server over WebSocket');
  addOptionFlags(command, FLAGS, (row) => DEFAULTS[row.option])
    .option('--insecure', 'send the token over plain ws:// to a host other than this one')
    .option(
      '--sandbox',
      "run under Node's permission model: tasks cannot write files, start processes, load addons, read files outside the install (so not the token), or kill the worker; see README",
    )
    .action(async (flags: FlagValues) => {
      const env = process.env;
      const given = givenText(FLAGS, flags);
      let token = given.get(TOKEN);
      if (flags.sandbox && !underPermissionModel()) {
        // Re-run this command as a child under the permission model; the token goes on its stdin.
        const caFile = given.get(CA);
        process.exit(
          await launchSandboxed(CLI, process.argv.slice(2), token, caFile ? [caFile] : []),
        );
      }
      if (flags.sandbox) {
        checkSandbox();
        if (env[TOKEN_ON_STDIN] === '1') {
          // The launcher died: nobody forwards signals any more, so stop as a killed worker would.
          token = await tokenFromStdin(() => process.exit(1));
        }
        delete env.TASKGRID_TOKEN;
        delete env[TOKEN_ON_STDIN];
      }
      const options: Record<string, unknown> = { url: DEFAULT_WORKER_URL };
      for (const [row, text] of given) setOption(options, row.option, optionValue(row, text));
      options.token = token;
      const caFile = given.get(CA);
      if (caFile !== undefined) options.ca = pemFileOption('--ca', caFile);
      options.insecure = flags.insecure === true;
      options.sandbox = flags.sandbox === true;
      const [{ TaskgridWorker }, { createLogger }] = await Promise.all([
        import('../worker/worker-client.js'),
        import('../shared/logger.js'),
      ]);
      const log = createLogger('taskgrid-worker');
      options.log = log;
      const worker = inFlagTerms(
        FLAGS,
        given,
        () => new TaskgridWorker(resolveWorkerOptions(options)),
      );
      exitOnSignal(log, 'draining: finishing held tasks, taking no new ones', () => worker.drain());
      worker.onFatal((error) => {
        log.error(error.message);
        process.exit(2);
      });
      await worker.start().catch((error: Error) => {
        log.error(error.message);
        process.exit(2);
      });
    });
}
