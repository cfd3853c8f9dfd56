/**
 * A private 3-master Redis Cluster on free ports for the tests that run the
 * store sharded over a cluster: three redis-servers with cluster mode on,
 * joined by `redis-cli --cluster create`, no replicas, no persistence.
 */

import { spawn } from 'node:child_process';
import { freePort, TestRedis } from './redis-server.js';

const MASTERS = 3;

export class TestCluster {
  readonly nodes: TestRedis[];

  private constructor(nodes: TestRedis[]) {
    this.nodes = nodes;
  }

  /** `host:port,host:port,…`: what `--redis-cluster` takes. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** `persistent`: an append-only file on each node (fsync always), so a node restarted keeps its data. */
  static async start(persistent = false): Promise<TestCluster> {
    const nodes: TestRedis[] = [];
    try {
      for (let i = 0; i < MASTERS; i += 1) {
        // The cluster bus listens on port + 10000: pick a port whose bus port is free too.
        const port = await freePortBelow(55_000);
        nodes.push(
          await TestRedis.start(
            [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              `nodes-${port}.conf`,
              '--cluster-node-timeout',
              '3000',
              ...(persistent
                ? ['--appendonly', 'yes', '--appendfsync', 'always']
                : ['--appendonly', 'no']),
            ],
            port,
          ),
        );
      }
      const cluster = new TestCluster(nodes);
      await cluster.#create();
      await cluster.#waitUntilOk();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((n) => n.destroy()));
      throw error;
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.destroy()));
  }

  async #create(): Promise<void> {
    const args = ['--cluster', 'create', ...this.seeds.split(','), '--cluster-yes'];
    const { code, output } = await run('redis-cli', args);
    if (code !== 0) throw new Error(`redis-cli --cluster create failed: ${output}`);
  }

  /** Every node agrees the cluster is ok (all slots served). */
  async #waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const states = await Promise.all(
        this.nodes.map((n) => run('redis-cli', ['-p', String(n.port), 'cluster', 'info'])),
      );
      if (states.every((s) => s.output.includes('cluster_state:ok'))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the test cluster at ${this.seeds} did not reach cluster_state:ok`);
  }
}

async function freePortBelow(limit: number): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < limit) return port;
  }
}

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, output }));
  });
}
