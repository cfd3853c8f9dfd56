/** The taskgrid package: the client SDK, the payload helpers, and the server and worker for embedding. */

export {
  type Arg,
  type Args,
  type MapOptions,
  type RegisterOptions,
  type RemoteFunction,
  RemoteTaskError,
  type Schedule,
  type ScheduleOptions,
  TaskGrid,
  TaskGridHttpError,
  type TaskGridOptions,
  type TaskHandle,
  type TaskProgress,
} from './client/task-grid.js';
export { GridServer } from './server/grid-server.js';
export { defaultConfig, type ServerConfig, type ServerOptions } from './server/server-config.js';
export { deserialize, serialize, serializeArgs } from './shared/serialize.js';
export type { TaskStatus } from './shared/types.js';
export { TaskgridWorker, type WorkerOptions } from './worker/worker-client.js';
