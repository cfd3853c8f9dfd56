/**
 * `taskgrid submit` and `taskgrid status`: the grid from a shell, through the
 * SDK and REST. Submit's lifecycle flags map onto the SDK's submit options
 * through one table (option-flags.ts): the SDK checks, the message names the flag.
 */

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { httpTransport } from '../client/http-transport.js';
import { submitOptions } from '../client/submit-options.js';
import { RemoteTaskError } from '../client/task-errors.js';
import { ConfigError } from '../shared/errors.js';
import { addConnectionFlags, type ClientFlags, connection, grid } from './connection-flags.js';
import {
  addOptionFlags,
  type FlagValues,
  flagOptions,
  givenText,
  inFlagTerms,
  type OptionFlag,
} from './option-flags.js';

/** The lifecycle flags of `taskgrid submit`, each an option of `fn.submit(args, options)`. */
const SUBMIT_FLAGS: readonly OptionFlag[] = [
  { flag: '--priority <n>', option: 'priority', help: '-100…100, higher runs first (default 0)' },
  { flag: '--delay-ms <ms>', option: 'delayMs', help: 'WAITING this long, then runnable' },
  {
    flag: '--deadline-ms <ms>',
    option: 'deadlineMs',
    help: 'FAILED (DeadlineExceededError) if not started within this long',
  },
  { flag: '--timeout-ms <ms>', option: 'timeoutMs', help: 'run-time limit of the task' },
  {
    flag: '--retry-max <n>',
    option: 'retry.maxAttempts',
    help: 'runs in all (1…100) when it throws or times out; with --retry-backoff and --retry-delay-ms',
  },
  {
    flag: '--retry-backoff <kind>',
    option: 'retry.backoff',
    help: 'fixed or exponential',
    text: true,
  },
  { flag: '--retry-delay-ms <ms>', option: 'retry.delayMs', help: 'wait before the second run' },
  {
    flag: '--retry-max-delay-ms <ms>',
    option: 'retry.maxDelayMs',
    help: 'cap on the wait between runs',
  },
  {
    flag: '--idempotency-key <key>',
    option: 'idempotencyKey',
    help: 'a repeat with the same key runs nothing new and prints the same task',
    text: true,
  },
];

/** A command-line argument as JSON when it parses, else as a string. */
function argValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Exported = (...args: unknown[]) => unknown;

async function exportedFunction(file: string): Promise<Exported> {
  const mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  const candidate =
    typeof mod.default === 'function'
      ? mod.default
      : Object.values(mod).find((value) => typeof value === 'function');
  if (typeof candidate !== 'function') {
    throw new ConfigError(`${file} exports no function (expected a default export or a named one)`);
  }
  return candidate as Exported;
}

function printResult(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function reportFailure(error: unknown): never {
  if (error instanceof RemoteTaskError) {
    process.stderr.write(`task failed: ${error.remoteName}: ${error.message}\n`);
    if (error.remoteStack) process.stderr.write(`${error.remoteStack}\n`);
    process.exit(1);
  }
  throw error;
}

export function addClientCommands(program: Command): void {
  const submit = program
    .command('submit')
    .description('register the function a file exports, run it, and print the result')
    .argument('<file>', 'a .js/.mjs file that exports a function (default or named)')
    .argument('[args...]', 'arguments, each read as JSON when it parses (else as a string)');
  addConnectionFlags(submit).option(
    '--each <file.json>',
    'run once per argument list in this JSON array, with a progress bar',
  );
  addOptionFlags(submit, SUBMIT_FLAGS, () => undefined);
  submit.action(
    async (file: string, args: string[], flags: ClientFlags & FlagValues & { each?: string }) => {
      const given = givenText(SUBMIT_FLAGS, flags);
      // Checked before anything is registered: a wrong flag costs no round trip.
      const options = inFlagTerms(SUBMIT_FLAGS, given, () => submitOptions(flagOptions(given)));
      if (flags.each && options.idempotencyKey !== undefined) {
        throw new ConfigError(
          '`--idempotency-key` cannot go with `--each`: each task gets a key of its own',
        );
      }
      const client = await grid(flags);
      try {
        const fn = await client.register(await exportedFunction(file));
        if (!flags.each) {
          const handle = await fn.submit(args.map(argValue), options);
          printResult(await handle.result().catch(reportFailure));
          return;
        }
        const lists = JSON.parse(await readFile(flags.each, 'utf8')) as unknown;
        if (!Array.isArray(lists) || !lists.every(Array.isArray)) {
          throw new ConfigError(
            `Expected \`--each\` to be a JSON array of argument arrays, got ${flags.each}`,
          );
        }
        const { SingleBar } = await import('cli-progress');
        const bar = new SingleBar({
          format: 'tasks [{bar}] {value}/{total}',
          stream: process.stderr,
        });
        bar.start(lists.length, 0);
        const results: unknown[] = [];
        try {
          for await (const value of fn.map(lists as unknown[][], {
            ...options,
            onProgress: (done) => bar.update(done),
          })) {
            results.push(value);
          }
        } catch (error) {
          bar.stop();
          reportFailure(error);
        }
        bar.stop();
        printResult(results);
      } finally {
        client.close();
      }
    },
  );

  addConnectionFlags(
    program.command('status').description('print the connected workers and the queue depth'),
  ).action(async (flags: ClientFlags) => {
    const { url, token, ca } = connection(flags);
    const base = url.replace(/\/$/, '');
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const request = { method: 'GET', headers };
    const http = httpTransport(ca);
    const health = JSON.parse(await (await http(`${base}/healthz`, request)).text()) as Record<
      string,
      unknown
    >;
    const res = await http(`${base}/workers`, request);
    if (!res.ok) throw new ConfigError(`GET /workers answered ${res.status}: is --token right?`);
    const workers = JSON.parse(await res.text()) as Record<string, unknown>[];
    const lines = [
      `server ${base}: ${String(health.status)}, mode ${String(health.mode)}, store ${String(health.store)}, queue depth ${String(health.queue_depth ?? '?')}`,
      `${workers.length} worker(s)`,
      ...workers.map(
        (w) =>
          `  ${String(w.id).slice(0, 8)}  ${String(w.address).padEnd(22)} threads ${String(w.threads).padStart(3)}  in flight ${String(w.in_flight).padStart(5)}  completed ${String(w.completed)}${w.draining ? '  (draining)' : ''}`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
