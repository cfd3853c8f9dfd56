/** Starts a GridServer in this process on port 0 with a quiet logger. */

import { pino } from 'pino';
import { TaskGrid } from '../../client/task-grid.js';
import { GridServer } from '../../server/grid-server.js';
import { defaultConfig, type ServerConfig } from '../../server/server-config.js';
import { testCluster, testRedis, uniquePrefix } from './root-hooks.js';

/** `cluster`: the store sharded over the test Redis Cluster. */
export type StoreKind = 'memory' | 'redis' | 'cluster';

/** The stores the contract, lifecycle and composition suites run against. */
export const STORE_KINDS: readonly StoreKind[] = ['memory', 'redis', 'cluster'];

export function testConfig(
  store: Exclude<StoreKind, 'cluster'>,
  overrides: Partial<ServerConfig> = {},
): ServerConfig {
  const config = defaultConfig();
  config.port = 0;
  config.threads = 2;
  config.store =
    store === 'memory'
      ? { kind: 'memory' }
      : { kind: 'redis', url: testRedis().url, prefix: uniquePrefix(), required: true };
  return { ...config, ...overrides };
}

export async function startInProcess(
  store: StoreKind,
  overrides: Partial<ServerConfig> = {},
): Promise<GridServer> {
  const config =
    store === 'cluster'
      ? {
          ...testConfig('memory', overrides),
          store: {
            kind: 'redis-cluster' as const,
            nodes: (await testCluster()).seeds.split(','),
            prefix: uniquePrefix(),
            shards: 16,
          },
        }
      : testConfig(store, overrides);
  return GridServer.start(config, { log: pino({ level: 'silent' }) });
}

/**
 * Runs `body` with an SDK client of a fresh in-process server on the memory
 * store, then closes both, whatever `body` did.
 */
export async function withSdkGrid(
  overrides: Partial<ServerConfig>,
  body: (grid: TaskGrid) => Promise<void>,
): Promise<void> {
  const server = await startInProcess('memory', overrides);
  const grid = new TaskGrid({ url: server.url });
  try {
    await body(grid);
  } finally {
    grid.close();
    await server.close();
  }
}
