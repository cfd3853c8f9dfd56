/** `taskgrid worker`: connect to a server's /ws and run its tasks on threads. */

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createLogger } from '../shared/logger.js';
import { intOption, urlOption } from '../shared/options.js';
import {
  checkSandbox,
  launchSandboxed,
  TOKEN_ON_STDIN,
  tokenFromStdin,
  underPermissionModel,
} from '../worker/sandbox-launch.js';
import { TaskgridWorker } from '../worker/worker-client.js';

const CLI = fileURLToPath(new URL('./taskgrid.js', import.meta.url));

interface WorkerFlags {
  url?: string;
  threads?: string;
  token?: string;
  prefetch?: string;
  drainTimeout?: string;
  sandbox?: boolean;
}

export function addWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker that connects to a taskgrid server over WebSocket')
    .option('--url <ws-url>', 'server socket, e.g. ws://127.0.0.1:8000/ws (env TASKGRID_URL)')
    .option('--threads <n>', 'task threads (env TASKGRID_THREADS); default: cores')
    .option('--token <secret>', 'the server token (env TASKGRID_TOKEN)')
    .option(
      '--prefetch <n>',
      'pull mode: tasks asked for per thread at least (more for cheap tasks); default 2',
    )
    .option('--drain-timeout <ms>', 'on SIGTERM, wait this long for running tasks; default 30000')
    .option(
      '--sandbox',
      "run under Node's permission model: tasks cannot write files, start processes, load addons, read files outside the install (so not the token), or kill the worker; see README",
    )
    .action(async (flags: WorkerFlags) => {
      const env = process.env;
      if (flags.sandbox && !underPermissionModel()) {
        // Re-run this command as a child under the permission model; the token goes on its stdin.
        const token = flags.token ?? env.TASKGRID_TOKEN;
        process.exit(await launchSandboxed(CLI, process.argv.slice(2), token));
      }
      let token = flags.token ?? env.TASKGRID_TOKEN;
      if (flags.sandbox) {
        checkSandbox();
        if (env[TOKEN_ON_STDIN] === '1') {
          // The launcher died: nobody forwards signals any more, so stop as a killed worker would.
          token = await tokenFromStdin(() => process.exit(1));
        }
        delete env.TASKGRID_TOKEN;
        delete env[TOKEN_ON_STDIN];
      }
      const url = urlOption('--url', flags.url ?? env.TASKGRID_URL ?? 'ws://127.0.0.1:8000/ws', [
        'ws:',
        'wss:',
      ]);
      const threads = intOption(
        '--threads',
        flags.threads ?? env.TASKGRID_THREADS ?? String(availableParallelism()),
        1,
        1024,
      );
      const prefetch = intOption('--prefetch', flags.prefetch ?? '2', 1, 10_000);
      const drainTimeoutMs = intOption('--drain-timeout', flags.drainTimeout ?? '30000', 0);
      const log = createLogger('taskgrid-worker');
      const worker = new TaskgridWorker({
        url,
        threads,
        prefetch,
        drainTimeoutMs,
        log,
        sandbox: flags.sandbox === true,
        ...(token ? { token } : {}),
      });
      const stop = (signal: string) => {
        log.info({ signal }, 'draining: finishing held tasks, taking no new ones');
        worker.drain().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
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
