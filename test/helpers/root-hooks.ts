/** One private redis-server for the whole run; each test takes its own key prefix. */

import { randomUUID } from 'node:crypto';
import { TestCluster } from './redis-cluster.js';
import { TestRedis } from './redis-server.js';

let redis: TestRedis | undefined;
let cluster: Promise<TestCluster> | undefined;

export function testRedis(): TestRedis {
  if (!redis) throw new Error('the test redis-server is not running');
  return redis;
}

/** A 3-master Redis Cluster for the run, started by the first test that asks for it. */
export function testCluster(): Promise<TestCluster> {
  cluster ??= TestCluster.start();
  return cluster;
}

/** CLI flags that point a server at the test cluster under its own prefix. */
export async function clusterFlags(prefix = uniquePrefix()): Promise<string[]> {
  return ['--redis-cluster', (await testCluster()).seeds, '--prefix', prefix];
}

export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}:`;
}

/** CLI flags that point a server at the test Redis under its own prefix. */
export function redisFlags(prefix = uniquePrefix()): string[] {
  return ['--redis', testRedis().url, '--prefix', prefix];
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(20_000);
    redis = await TestRedis.start();
  },
  async afterAll() {
    await redis?.destroy();
    const started = cluster;
    cluster = undefined;
    await started?.then((c) => c.destroy()).catch(() => {});
  },
};
