/**
 * The flags every client command takes to reach a server (--url, --token,
 * --ca, --insecure, each with its environment variable), and the SDK they
 * make. Checked before any request: a token bound for another host over
 * plain http is refused here, naming the flag.
 */

import type { Command } from 'commander';
import type { TaskGrid } from '../client/task-grid.js';
import { DEFAULT_SERVER_URL } from '../shared/defaults.js';
import { urlOption } from '../shared/options.js';
import { checkTokenTransport, pemFileOption } from '../shared/transport-security.js';

export interface ClientFlags {
  url?: string;
  token?: string;
  ca?: string;
  insecure?: boolean;
}

/** Where and how to reach the server, from the flags or the environment, checked. */
export interface Connection {
  url: string;
  token: string | undefined;
  /** The --ca file's PEM text. */
  ca: string | undefined;
  insecure: boolean;
}

export function addConnectionFlags(command: Command): Command {
  return command
    .option('--url <http-url>', `server address (env TASKGRID_URL); default ${DEFAULT_SERVER_URL}`)
    .option('--token <secret>', 'the server token (env TASKGRID_TOKEN)')
    .option(
      '--ca <file>',
      'PEM file of a private CA to trust for an https:// server (env TASKGRID_CA)',
    )
    .option('--insecure', 'send the token over plain http:// to a host other than this one');
}

export function connection(flags: ClientFlags): Connection {
  const env = process.env;
  const url = urlOption('--url', flags.url ?? env.TASKGRID_URL ?? DEFAULT_SERVER_URL, [
    'http:',
    'https:',
  ]);
  const token = flags.token ?? env.TASKGRID_TOKEN;
  const insecure = flags.insecure === true;
  checkTokenTransport('--url', url, Boolean(token), insecure);
  const caFile = flags.ca ?? env.TASKGRID_CA;
  const ca = caFile ? pemFileOption('--ca', caFile) : undefined;
  return { url, token: token || undefined, ca, insecure };
}

/**
 * The SDK on the server the flags (or the environment) name. Loaded here, not
 * at start: `taskgrid --help`, `server` and `worker` do not pay for it.
 */
export async function grid(flags: ClientFlags): Promise<TaskGrid> {
  const { url, token, ca, insecure } = connection(flags);
  const { TaskGrid } = await import('../client/task-grid.js');
  return new TaskGrid({
    url,
    ...(token ? { token } : {}),
    ...(ca ? { ca } : {}),
    insecure,
  });
}
