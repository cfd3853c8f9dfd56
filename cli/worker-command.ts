/** `taskgrid worker`: connect to a server's /ws and run its tasks on threads. */

import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { createLogger } from '../shared/logger.js';
import { intOption, urlOption } from '../shared/options.js';
import { TaskgridWorker } from '../worker/worker-client.js';

interface WorkerFlags {
  url?: string;
  threads?: string;
  token?: string;
  prefetch?: string;
  drainTimeout?: string;
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
    .action(async (flags: WorkerFlags) => {
      const env = process.env;
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
      const token = flags.token ?? env.TASKGRID_TOKEN;
      const log = createLogger('taskgrid-worker');
      const worker = new TaskgridWorker({
        url,
        threads,
        prefetch,
        drainTimeoutMs,
        log,
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
