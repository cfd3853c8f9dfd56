/** The taskgrid package: the client SDK, the payload helpers, and the server and worker for embedding. */

export { TlsRefusedError } from './client/http-transport.js';
export {
  type Arg,
  type Args,
  type DeletedFunction,
  type FunctionDetails,
  type FunctionInfo,
  type MapOptions,
  type RecordedProgress,
  type RegisterOptions,
  type RemoteFunction,
  RemoteTaskError,
  type RetryOptions,
  type Schedule,
  type ScheduleOptions,
  type SubmitOptions,
  type TaskDetails,
  type TaskFilter,
  TaskGrid,
  TaskGridHttpError,
  type TaskGridOptions,
  type TaskHandle,
  type TaskInfo,
  type TaskPage,
  type TaskProgress,
  type TaskRunError,
} from './client/task-grid.js';
export { GridServer } from './server/grid-server.js';
export { defaultConfig, type ServerConfig, type ServerOptions } from './server/server-config.js';
export { deserialize, serialize, serializeArgs } from './shared/serialize.js';
export type { TaskStatus } from './shared/types.js';
export { TaskgridWorker, type WorkerOptions } from './worker/worker-client.js';
