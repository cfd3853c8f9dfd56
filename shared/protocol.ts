/**
 * The worker wire protocol: one discriminated union per direction, a version
 * in the handshake, and a parser that every incoming frame goes through
 * (size-limited by the socket, then parsed from `unknown`).
 *
 * Close codes are named in close-codes.ts; which error closes with which is
 * ERROR_TABLE in errors.ts.
 */

import { type Static, Type } from '@sinclair/typebox';
import { ProtocolError } from './errors.js';
import { jsonShapeProblem } from './json-shape.js';
import { PROGRESS_NOTE_MAX } from './progress.js';
import {
  DeadlineMsSchema,
  DelayMsSchema,
  IdempotencyKeySchema,
  LabelsSchema,
  PrioritySchema,
  RetryPolicySchema,
  TimeoutMsSchema,
} from './submit-fields.js';
import { compileParser } from './validate.js';
import { WorkerLoadSchema } from './worker-info.js';

export const PROTOCOL_VERSION = 1;
/** No peer may ask for frames smaller than this. */
export const MIN_FRAME_BYTES = 64 * 1024;

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Status = Type.Union([
  Type.Literal('COMPLETED'),
  Type.Literal('FAILED'),
  Type.Literal('CANCELLED'),
]);

const OutcomeFields = {
  id: Id,
  attempt: Type.Integer({ minimum: 0 }),
  status: Status,
  run_ms: Type.Number({ minimum: 0 }),
};
export const TaskOutcomeSchema = Type.Object({ ...OutcomeFields, value: Type.String() });

// Worker → server.
const Hello = Type.Object({
  type: Type.Literal('hello'),
  version: Type.Integer(),
  threads: Type.Integer({ minimum: 1, maximum: 1024 }),
  worker_id: Type.Optional(Id),
  token: Type.Optional(Type.String({ maxLength: 4096 })),
  name: Type.Optional(Type.String({ maxLength: 256 })),
  /** Largest frame this worker takes; the server cuts its tasks frames to fit. */
  max_frame: Type.Optional(Type.Integer({ minimum: MIN_FRAME_BYTES })),
  /** The worker reads tasks frames in binary (tasks-frame.ts); text frames otherwise. */
  binary_tasks: Type.Optional(Type.Boolean()),
  /** What this worker can run: a task runs only on a worker with all of its labels. */
  labels: Type.Optional(LabelsSchema),
});
const Pull = Type.Object({
  type: Type.Literal('pull'),
  max: Type.Integer({ minimum: 1, maximum: 100000 }),
});
const Results = Type.Object({
  type: Type.Literal('results'),
  results: Type.Array(TaskOutcomeSchema, { maxItems: 100000 }),
});
/**
 * The JSON head of a binary results frame (results-frame.ts): each result's
 * value is not in it but follows it as raw bytes, `value_bytes` long.
 */
export const ResultsHeadSchema = Type.Object({
  type: Type.Literal('results'),
  results: Type.Array(
    Type.Object({ ...OutcomeFields, value_bytes: Type.Integer({ minimum: 0 }) }),
    {
      maxItems: 100000,
    },
  ),
});
export type ResultsHead = Static<typeof ResultsHeadSchema>;
export type ResultsMessage = Static<typeof Results>;
const Draining = Type.Object({ type: Type.Literal('draining') });
/** The answer to `hand_back`: the tasks this worker held and had not started, now given up. */
const HandedBack = Type.Object({
  type: Type.Literal('handed_back'),
  tasks: Type.Array(Type.Object({ id: Id, attempt: Type.Integer({ minimum: 0 }) }), {
    maxItems: 100000,
  }),
});

const ProgressValue = Type.Number({ minimum: 0, maximum: 1 });
const ProgressNote = Type.String({ maxLength: PROGRESS_NOTE_MAX });
/**
 * A running task called `progress(value, note?)`. Workers throttle these
 * (about ten a second per task), and the server does again; it takes them
 * only for attempts the worker holds. Always a text frame.
 */
const Progress = Type.Object({
  type: Type.Literal('progress'),
  id: Id,
  attempt: Type.Integer({ minimum: 0 }),
  value: ProgressValue,
  note: Type.Optional(ProgressNote),
});
export type ProgressMessage = Static<typeof Progress>;

export const WorkerMessageSchema = Type.Union([
  Hello,
  Pull,
  Results,
  Draining,
  HandedBack,
  Progress,
]);
export type WorkerMessage = Static<typeof WorkerMessageSchema>;
export type HelloMessage = Static<typeof Hello>;

// Server → worker.
const Welcome = Type.Object({
  type: Type.Literal('welcome'),
  version: Type.Integer(),
  worker_id: Id,
  mode: Type.Union([Type.Literal('push'), Type.Literal('pull')]),
  heartbeat_ms: Type.Integer({ minimum: 1 }),
  /** Largest frame the server takes; the worker cuts its results frames to fit. */
  max_frame: Type.Optional(Type.Integer({ minimum: MIN_FRAME_BYTES })),
  /** The server reads results frames in binary (results-frame.ts); text frames otherwise. */
  binary_results: Type.Optional(Type.Boolean()),
});
const Functions = Type.Array(Type.Object({ id: Id, source: Type.String() }));
const TaskFields = {
  id: Id,
  fn: Id,
  attempt: Type.Integer({ minimum: 0 }),
  timeout_ms: Type.Integer({ minimum: 1 }),
  /**
   * A deadline, as ms from when the frame was sent: the worker must not start
   * the task later (clocks of two machines differ; a span does not).
   */
  start_within_ms: Type.Optional(Type.Integer({ minimum: 0 })),
};
const Tasks = Type.Object({
  type: Type.Literal('tasks'),
  functions: Functions,
  tasks: Type.Array(Type.Object({ ...TaskFields, args: Type.String() })),
});
/**
 * The JSON head of a binary tasks frame (tasks-frame.ts): each task's
 * argument text is not in it but follows it as raw bytes, `args_bytes` long.
 */
export const TasksHeadSchema = Type.Object({
  type: Type.Literal('tasks'),
  functions: Functions,
  tasks: Type.Array(Type.Object({ ...TaskFields, args_bytes: Type.Integer({ minimum: 0 }) })),
});
export type TasksHead = Static<typeof TasksHeadSchema>;
export type TasksMessage = Static<typeof Tasks>;
const Cancel = Type.Object({
  type: Type.Literal('cancel'),
  ids: Type.Array(Id),
  /** The attempt of each id, when given: only that attempt is stopped. */
  attempts: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
});

/**
 * A task of a higher priority was queued: hand back (`handed_back`) those of
 * these tasks that have not started, so none starts before it.
 */
const HandBack = Type.Object({
  type: Type.Literal('hand_back'),
  ids: Type.Array(Id, { maxItems: 100000 }),
});

export const ServerMessageSchema = Type.Union([Welcome, Tasks, Cancel, HandBack]);
export type ServerMessage = Static<typeof ServerMessageSchema>;

const parseWorkerValue = compileParser(
  WorkerMessageSchema,
  (reason) => new ProtocolError(`Malformed worker message: ${reason}`),
);
const parseServerValue = compileParser(
  ServerMessageSchema,
  (reason) => new ProtocolError(`Malformed server message: ${reason}`),
);

/** What a ws 'message' listener is given (ws's RawData), named here without importing ws. */
export type FrameData = Buffer | ArrayBuffer | Buffer[];

/** A received frame's bytes in one Buffer. */
export function frameBytes(data: FrameData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/**
 * A received frame's text, once its JSON shape is known to be cheap to parse
 * (json-shape.ts). Throws ProtocolError (close 4400) otherwise. Every socket
 * end decodes its frames here: both server gateways and the worker.
 */
export function frameText(data: FrameData): string {
  const bytes = frameBytes(data);
  const problem = jsonShapeProblem(bytes);
  if (problem !== undefined) throw new ProtocolError(`Frame refused unparsed: ${problem}`);
  return bytes.toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError('Frame is not JSON text');
  }
}

/** Parses a frame a worker sent. Throws ProtocolError. */
export function parseWorkerMessage(text: string): WorkerMessage {
  return parseWorkerValue(parseJson(text));
}

/** Parses a frame the server sent. Throws ProtocolError. */
export function parseServerMessage(text: string): ServerMessage {
  return parseServerValue(parseJson(text));
}

// Client socket (`/ws/client`): a client subscribes to task ids (or submits
// tasks, which subscribes it to them) and is sent each one's result the
// moment it is stored (or at once if it already is).
const Subscribe = Type.Object({
  type: Type.Literal('subscribe'),
  ids: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 10_000 }),
});
const Unsubscribe = Type.Object({
  type: Type.Literal('unsubscribe'),
  ids: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 10_000 }),
});
/** Dashboards ask for a stats message every second. */
const Watch = Type.Object({ type: Type.Literal('watch') });
/**
 * The options a socket submit may carry: those of POST /execute_function,
 * with the same bounds (submit-fields.ts). The SDK checks them before it
 * sends, since a frame that fails this check closes the socket.
 */
const BatchOptionFields = {
  timeout_ms: Type.Optional(TimeoutMsSchema),
  priority: Type.Optional(PrioritySchema),
  delay_ms: Type.Optional(DelayMsSchema),
  deadline_ms: Type.Optional(DeadlineMsSchema),
  retry: Type.Optional(RetryPolicySchema),
  labels: Type.Optional(LabelsSchema),
};
export const SubmitOptionFields = {
  ...BatchOptionFields,
  idempotency_key: Type.Optional(IdempotencyKeySchema),
};
/**
 * Runs a function once, as POST /execute_function does; answered `submitted`
 * (the task is stored, and this socket is subscribed to it) or `refused`,
 * each carrying the client's `ref`.
 */
const Submit = Type.Object({
  type: Type.Literal('submit'),
  ref: Type.String({ minLength: 1, maxLength: 64 }),
  function_id: Type.String({ maxLength: 64 }),
  payload: Type.String(),
  ...SubmitOptionFields,
});
/** Submits one socket may have under way at once; past it a submit is refused TG_TOO_MANY. */
export const MAX_SUBMITS_UNDER_WAY = 1000;

/** Payloads one `submit_batch` frame may carry (the server's batch limit may be lower). */
export const MAX_SUBMIT_BATCH = 10_000;
/**
 * The head of a binary `submit_batch` frame (submit-batch-frame.ts): runs a
 * function once per payload, as POST /execute_batch does, all or nothing.
 * Each payload's argument text follows the head as raw UTF-8, `payload_bytes`
 * giving each one's length. Answered `submitted_batch` (the socket is then
 * subscribed to every task) or `refused`, each carrying the client's `ref`.
 * Only a binary frame carries it: a text frame of this type is malformed.
 */
export const SubmitBatchHeadSchema = Type.Object({
  type: Type.Literal('submit_batch'),
  ref: Type.String({ minLength: 1, maxLength: 64 }),
  function_id: Type.String({ maxLength: 64 }),
  payload_bytes: Type.Array(Type.Integer({ minimum: 0 }), {
    minItems: 1,
    maxItems: MAX_SUBMIT_BATCH,
  }),
  idempotency_keys: Type.Optional(Type.Array(IdempotencyKeySchema, { maxItems: MAX_SUBMIT_BATCH })),
  ...BatchOptionFields,
});
export type SubmitBatchHead = Static<typeof SubmitBatchHeadSchema>;
/**
 * A submit_batch as the server reads it: the head with each payload's bytes
 * (a view of the frame, not yet checked to be UTF-8) in place of its length.
 */
export type SubmitBatchMessage = Omit<SubmitBatchHead, 'payload_bytes'> & { payloads: Buffer[] };
/** A submit_batch as a client sends it: each payload as text or as its UTF-8 bytes. */
export type SubmitBatchOutgoing = Omit<SubmitBatchMessage, 'payloads'> & {
  payloads: readonly (string | Buffer)[];
};

export const ClientMessageSchema = Type.Union([Subscribe, Unsubscribe, Watch, Submit]);
export type ClientMessage = Static<typeof ClientMessageSchema>;

const TaskResult = Type.Object({
  type: Type.Literal('result'),
  task_id: Type.String(),
  status: Type.Union([
    Type.Literal('COMPLETED'),
    Type.Literal('FAILED'),
    Type.Literal('CANCELLED'),
  ]),
  result: Type.Optional(Type.String()),
});
/**
 * The head of a binary result frame on `/ws/client` (client-result-frame.ts),
 * sent to a socket that asked for them (BINARY_RESULTS_PARAM): the result's
 * JSON text follows it as raw bytes, its length in place of `result`.
 */
export const ResultHeadSchema = Type.Object({
  type: Type.Literal('result'),
  task_id: Type.String(),
  status: Type.Union([Type.Literal('COMPLETED'), Type.Literal('FAILED')]),
  result_bytes: Type.Integer({ minimum: 0 }),
});
export type ResultHead = Static<typeof ResultHeadSchema>;
/** `/ws/client?binary_results=1`: large results may come as binary result frames. */
export const BINARY_RESULTS_PARAM = 'binary_results';
const UnknownTask = Type.Object({ type: Type.Literal('unknown'), task_id: Type.String() });
/** What a running task last reported, pushed to the task's subscribers (throttled per task). */
const TaskProgress = Type.Object({
  type: Type.Literal('progress'),
  task_id: Type.String(),
  value: ProgressValue,
  note: Type.Optional(ProgressNote),
});
const Submitted = Type.Object({
  type: Type.Literal('submitted'),
  ref: Type.String(),
  task_id: Type.String(),
});
/** A submit_batch stored: its tasks' ids in the order of its payloads. */
const SubmittedBatch = Type.Object({
  type: Type.Literal('submitted_batch'),
  ref: Type.String(),
  task_ids: Type.Array(Type.String()),
});
/** A submit not stored (or, for TG_OUTCOME_UNKNOWN, maybe stored): `code` from ERROR_TABLE. */
const Refused = Type.Object({
  type: Type.Literal('refused'),
  ref: Type.String(),
  code: Type.String(),
  message: Type.String(),
});
/** One tenant's tasks as this server counted them (the dashboard's tenants table). */
const TenantLoad = Type.Object({
  tenant: Type.String(),
  submitted: Type.Integer({ minimum: 0 }),
  completed: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
  cancelled: Type.Integer({ minimum: 0 }),
});
export type TenantLoad = Static<typeof TenantLoad>;

/** How many QUEUED tasks one priority has (the dashboard's queue view). */
const PriorityCount = Type.Object({
  priority: Type.Integer(),
  queued: Type.Integer({ minimum: 1 }),
});

const Stats = Type.Object({
  type: Type.Literal('stats'),
  at: Type.Number(),
  mode: Type.String(),
  queue_depth: Type.Number(),
  completed_per_s: Type.Number(),
  latency_p50_ms: Type.Number(),
  latency_p95_ms: Type.Number(),
  workers: Type.Array(WorkerLoadSchema),
  /**
   * QUEUED tasks per priority (all tenants', as `queue_depth`), highest first,
   * only priorities that have some; absent from older servers.
   */
  queue_by_priority: Type.Optional(Type.Array(PriorityCount)),
  /** With a tokens file: what this server counted for each tenant since it started. */
  tenants: Type.Optional(Type.Array(TenantLoad)),
});

export const ClientServerMessageSchema = Type.Union([
  TaskResult,
  UnknownTask,
  TaskProgress,
  Submitted,
  SubmittedBatch,
  Refused,
  Stats,
]);
export type ClientServerMessage = Static<typeof ClientServerMessageSchema>;
/** A task's result as `/ws/client` carries it (a text frame, or client-result-frame.ts). */
export type TaskResultMessage = Extract<ClientServerMessage, { type: 'result' }>;
export type StatsMessage = Static<typeof Stats>;
export type TaskProgressMessage = Static<typeof TaskProgress>;

const parseClientValue = compileParser(
  ClientMessageSchema,
  (reason) => new ProtocolError(`Malformed client message: ${reason}`),
);
const parseClientServerValue = compileParser(
  ClientServerMessageSchema,
  (reason) => new ProtocolError(`Malformed server message: ${reason}`),
);

/** Parses a frame a client sent on /ws/client. Throws ProtocolError. */
export function parseClientMessage(text: string): ClientMessage {
  return parseClientValue(parseJson(text));
}

/** Parses a frame the server sent on /ws/client. Throws ProtocolError. */
export function parseClientServerMessage(text: string): ClientServerMessage {
  return parseClientServerValue(parseJson(text));
}

export function encode(
  message: WorkerMessage | ServerMessage | ClientMessage | ClientServerMessage,
): string {
  return JSON.stringify(message);
}
