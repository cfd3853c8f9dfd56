/**
 * `taskgrid worker --sandbox`: run the worker process under Node's
 * permission model.
 *
 * The CLI re-executes itself as a child `node --experimental-permission
 * --allow-worker --allow-fs-read=<its own install> …`: no file writes, no
 * child processes, no native addons, no inspector or WASI, and file reads
 * only of the install (so /proc/self/environ and /proc/self/cmdline are
 * unreadable). The token never appears in the child's argv or environment:
 * the parent writes it as the first line of the child's stdin and keeps that
 * pipe open as a lifeline (the child exits when the parent dies). The parent
 * only forwards signals and the exit code.
 *
 * What the permission model does not restrict in Node 20 is written in
 * README ("What a task can and cannot do"): network access, memory outside
 * the V8 heap (ArrayBuffers), CPU.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../shared/errors.js';

/** The environment variable that tells the child to read its token from stdin. */
export const TOKEN_ON_STDIN = 'TASKGRID_TOKEN_ON_STDIN';

interface Permission {
  has(scope: string, reference?: string): boolean;
}

function permission(): Permission | undefined {
  const p = (process as { permission?: Permission }).permission;
  return typeof p?.has === 'function' ? p : undefined;
}

/** True in a process started with --experimental-permission. */
export function underPermissionModel(): boolean {
  return permission() !== undefined;
}

/** The package's install directory (the one holding dist/ and package.json). */
export function installDir(): string {
  return realpathSync(fileURLToPath(new URL('../..', import.meta.url)));
}

/**
 * Directories the sandboxed process may read: its install, and the
 * node_modules directories its dependencies resolve to (with npm's hoisting
 * and symlinked installs, those may lie outside the install).
 */
export function readableDirs(): string[] {
  const root = installDir();
  const dirs = new Set<string>([root]);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    let entry: string;
    try {
      entry = realpathSync(fileURLToPath(import.meta.resolve(name)));
    } catch {
      continue; // a dependency that cannot be resolved here is not loaded either
    }
    const at = entry.lastIndexOf(`${sep}node_modules${sep}`);
    if (at >= 0) dirs.add(entry.slice(0, at + `${sep}node_modules`.length));
    else dirs.add(dirname(entry));
  }
  return [...dirs];
}

/** The node flags of a sandboxed worker process; `files` it may read too (the --ca file). */
export function sandboxFlags(files: readonly string[] = []): string[] {
  return [
    '--experimental-permission',
    '--allow-worker',
    ...readableDirs().map((dir) => `--allow-fs-read=${dir}${sep}`),
    ...files.map((file) => `--allow-fs-read=${resolve(file)}`),
    // "Permission is an experimental feature" on every start says nothing new (Node 20.11+).
    ...(process.allowedNodeEnvironmentFlags.has('--disable-warning')
      ? ['--disable-warning=ExperimentalWarning']
      : []),
  ];
}

/** Command-line arguments without the token (`--token x` / `--token=x`). */
export function withoutToken(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--token') {
      i++;
      continue;
    }
    if (arg.startsWith('--token=')) continue;
    out.push(arg);
  }
  return out;
}

/**
 * Re-executes this CLI with `args` under the permission model, hands it the
 * token on stdin, forwards SIGTERM / SIGINT, and resolves with its exit code.
 */
export function launchSandboxed(
  cli: string,
  args: readonly string[],
  token: string | undefined,
  files: readonly string[] = [],
): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, [TOKEN_ON_STDIN]: '1' };
  delete env.TASKGRID_TOKEN;
  const child: ChildProcess = spawn(
    process.execPath,
    [...sandboxFlags(files), cli, ...withoutToken(args)],
    {
      env,
      stdio: ['pipe', 'inherit', 'inherit'],
    },
  );
  // The first line is the token (empty: none). The pipe then stays open:
  // when this process dies, the child sees its stdin end and exits.
  child.stdin?.write(`${token ?? ''}\n`);
  child.stdin?.on('error', () => {});
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    child.once('error', () => resolve(2));
  });
}

/**
 * In the sandboxed child: the token from the first line of stdin; `onLost`
 * runs when stdin ends (the parent is gone).
 */
export function tokenFromStdin(onLost: () => void): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let done = false;
    const stdin = process.stdin;
    stdin.setEncoding('utf8');
    stdin.on('data', (chunk: string) => {
      if (done) return;
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      done = true;
      const token = buffer.slice(0, end);
      buffer = '';
      resolve(token === '' ? undefined : token);
    });
    stdin.once('end', () => {
      if (!done)
        reject(new ConfigError('The sandbox launcher closed stdin before sending the token'));
      onLost();
    });
  });
}

/**
 * Refuses to run "sandboxed" under a permission model that allows what the
 * sandbox promises to deny (a user may start the CLI under their own flags).
 */
export function checkSandbox(): void {
  const p = permission();
  if (!p) throw new ConfigError('--sandbox: the permission model is not on');
  const problems: string[] = [];
  if (p.has('fs.write')) problems.push('file writes are allowed');
  if (p.has('child')) problems.push('child processes are allowed');
  if (p.has('fs.read', '/proc/self/environ')) problems.push('/proc/self/environ is readable');
  if (!p.has('worker')) problems.push('worker threads are not allowed (--allow-worker)');
  if (problems.length > 0) {
    throw new ConfigError(
      `--sandbox: this process's permissions are too wide: ${problems.join('; ')}`,
    );
  }
}
