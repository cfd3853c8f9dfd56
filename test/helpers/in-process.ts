/** Starts a GridServer in this process on port 0 with a quiet logger. */

import { pino } from 'pino';
import { GridServer } from '../../server/grid-server.js';
import { defaultConfig, type ServerConfig } from '../../server/server-config.js';
import { testRedis, uniquePrefix } from './root-hooks.js';

export type StoreKind = 'memory' | 'redis';

export function testConfig(store: StoreKind, overrides: Partial<ServerConfig> = {}): ServerConfig {
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
  return GridServer.start(testConfig(store, overrides), { log: pino({ level: 'silent' }) });
}
