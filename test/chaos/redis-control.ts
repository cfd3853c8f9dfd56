/**
 * The chaos run's hands on its Redis: find its pid, kill it with a signal,
 * and send it control commands (CLIENT PAUSE, CLIENT KILL, CONFIG SET) through
 * redis-cli, so no client of the harness is itself paused or killed.
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function redisCli(port: number, args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 5000 });
  return stdout.trim();
}

export async function redisPid(port: number): Promise<number> {
  const info = await redisCli(port, ['INFO', 'server']);
  const match = info.match(/process_id:(\d+)/);
  if (!match) throw new Error(`redis on port ${port} did not report its pid`);
  return Number(match[1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to the redis-server and waits (bounded) until the process is gone. */
export async function killRedis(port: number, signal: NodeJS.Signals): Promise<number> {
  const pid = await redisPid(port);
  process.kill(pid, signal);
  const deadline = Date.now() + 15_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (alive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
  }
  return pid;
}
