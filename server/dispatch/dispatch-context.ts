/** What every dispatcher shares: the store, this server's identity, and the write path. */

import type { Logger } from 'pino';
import type { FunctionCache } from '../function-cache.js';
import type { GridMetrics } from '../metrics.js';
import type { ServerConfig } from '../server-config.js';
import type { TaskStore } from '../store/task-store.js';
import type { Tenants } from '../tenants.js';
import type { OutcomeWriter } from './outcome-writer.js';

export interface DispatchContext {
  store: TaskStore;
  /** This server process; lease owners are `<instanceId>/<worker>`. */
  instanceId: string;
  config: ServerConfig;
  log: Logger;
  functions: FunctionCache;
  outcomes: OutcomeWriter;
  metrics: GridMetrics;
  /**
   * Tenants and their weights (tenants.ts): a task's tenant is `task.tenant`,
   * a remote worker's is its session's `tenant` (undefined: any).
   */
  tenants: Tenants;
}
