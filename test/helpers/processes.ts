/**
 * Spawns real `taskgrid` processes (server, worker) from the built CLI and
 * waits for them to say they are ready. Every process started is killed in
 * `killAll()`.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../cli/taskgrid.js', import.meta.url));

const started = new Set<ChildProcess>();

/** Node flags for every CLI process started here (`npm run perf -- --cpu-prof <dir>` sets them). */
export const CHILD_NODE_ARGS_ENV = 'TASKGRID_CHILD_NODE_ARGS';

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const nodeArgs = process.env[CHILD_NODE_ARGS_ENV]?.split(' ').filter(Boolean) ?? [];
  return runProcess(process.execPath, [...nodeArgs, CLI, ...args], env);
}

/** Any program (`ip netns exec … node taskgrid.js worker`, an installed `taskgrid` bin), tracked like `runCli`'s. */
export function runProcess(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(file, args, {
    env: { ...process.env, TASKGRID_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      started.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => text, exited };
}

/** Waits until the process printed something matching `pattern`; returns the match. */
export async function waitForOutput(
  proc: Spawned,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = proc.output().match(pattern);
    if (match) return match;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process did not print ${pattern} in time; it printed:\n${proc.output()}`);
}

export interface ServerProcess extends Spawned {
  url: string;
  wsUrl: string;
}

export async function startServer(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const proc = runCli(['server', '--port', '0', ...args], env);
  const [, url] = await waitForOutput(proc, /"url":"(https?:\/\/[^"]+)"/);
  const base = url as string;
  return { ...proc, url: base, wsUrl: `${base.replace(/^http/, 'ws')}/ws` };
}

export async function startWorker(
  wsUrl: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Spawned> {
  const proc = runCli(['worker', '--url', wsUrl, ...args], env);
  await waitForOutput(proc, /connected to server/);
  return proc;
}

export async function stop(
  proc: Spawned,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.child.exitCode;
  proc.child.kill(signal);
  return proc.exited;
}

export async function killAll(): Promise<void> {
  const all = [...started];
  for (const child of all) child.kill('SIGKILL');
  await Promise.all(
    all.map(
      (child) =>
        new Promise((resolve) =>
          child.exitCode !== null ? resolve(null) : child.once('exit', resolve),
        ),
    ),
  );
}
