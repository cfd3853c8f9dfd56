/**
 * Starts a private redis-server for the test run on a free port, with no
 * persistence, and stops it afterwards. Tests never touch the machine's own
 * Redis.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class TestRedis {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | undefined;
  readonly #extra: string[];

  private constructor(port: number, extra: string[]) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'taskgrid-redis-'));
    this.#extra = extra;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a redis-server on `port` (a free one when not given). */
  static async start(extra: string[] = [], port?: number): Promise<TestRedis> {
    const probe = spawnSync('redis-server', ['--version']);
    if (probe.error) {
      throw new Error(
        'redis-server is not installed: the tests start their own. Install it (apt-get install redis-server) and run again.',
      );
    }
    const redis = new TestRedis(port ?? (await freePort()), extra);
    await redis.run();
    return redis;
  }

  /** Starts (or restarts) the server on the same port and directory. */
  async run(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--dir',
      this.dir,
      '--logfile',
      '',
      '--loglevel',
      'warning',
      ...this.#extra,
    ];
    this.#child = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await this.#answers()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #answers(): Promise<boolean> {
    const { Socket } = await import('node:net');
    return new Promise((resolve) => {
      const socket = new Socket();
      socket.setTimeout(300);
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.connect(this.port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
  }
}
