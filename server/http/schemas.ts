/**
 * REST request and response schemas. The same TypeBox definitions validate
 * requests at the boundary and describe them in /openapi.json.
 */

import { type Static, Type } from '@sinclair/typebox';
import { SchemaError } from '../../shared/errors.js';
import {
  DeadlineMsSchema as DeadlineMs,
  DelayMsSchema as DelayMs,
  IdempotencyKeySchema as IdempotencyKey,
  LabelsSchema as Labels,
  PrioritySchema as Priority,
  RetryPolicySchema as RetryPolicy,
  TimeoutMsSchema as TimeoutMs,
} from '../../shared/submit-fields.js';
import { TASK_STATUSES } from '../../shared/types.js';
import { compileParser } from '../../shared/validate.js';
import { WorkerInfoSchema, WorkerPageSchema } from '../../shared/worker-info.js';

export const RegisterBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  payload: Type.String({ description: 'Source text of one JavaScript function' }),
  timeout_ms: Type.Optional(TimeoutMs),
  retry: Type.Optional(RetryPolicy),
  labels: Type.Optional(Labels),
  concurrency: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description: 'At most this many of its tasks RUNNING at once, across every server and worker',
    }),
  ),
});
/** The lifecycle options a submit takes, for one task or every task of a batch. */
const SubmitOptionFields = {
  timeout_ms: Type.Optional(TimeoutMs),
  priority: Type.Optional(Priority),
  delay_ms: Type.Optional(DelayMs),
  deadline_ms: Type.Optional(DeadlineMs),
  retry: Type.Optional(RetryPolicy),
  labels: Type.Optional(Labels),
};
export const ExecuteBody = Type.Object({
  function_id: Type.String(),
  payload: Type.String({ description: 'JSON text of the argument array, e.g. "[2]"' }),
  ...SubmitOptionFields,
  idempotency_key: Type.Optional(IdempotencyKey),
});
export const BatchBody = Type.Object({
  function_id: Type.String(),
  payloads: Type.Array(Type.String()),
  ...SubmitOptionFields,
  idempotency_keys: Type.Optional(
    Type.Array(IdempotencyKey, { description: 'One key per payload, in the same order' }),
  ),
});

export const Status = Type.Union(TASK_STATUSES.map((s) => Type.Literal(s)));
export const RegisterReply = Type.Object({ function_id: Type.String({ format: 'uuid' }) });
export const ExecuteReply = Type.Object({ task_id: Type.String({ format: 'uuid' }) });
export const BatchReply = Type.Object({ task_ids: Type.Array(Type.String({ format: 'uuid' })) });
export const StatusReply = Type.Object({ task_id: Type.String(), status: Status });
export const ResultReply = Type.Object({
  task_id: Type.String(),
  status: Status,
  result: Type.Optional(
    Type.String({
      description:
        'JSON text of the return value (COMPLETED) or of {name, message, stack} (FAILED)',
    }),
  ),
});
/**
 * GET /workers: every worker (no `limit`, no `cursor`) or one page of them;
 * the same schemas the dispatchers' `WorkerInfo` type comes from.
 */
export const WorkersReply = Type.Union([Type.Array(WorkerInfoSchema), WorkerPageSchema]);
export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

export type RegisterBody = Static<typeof RegisterBody>;
export type ExecuteBody = Static<typeof ExecuteBody>;
export type BatchBody = Static<typeof BatchBody>;

const schemaError = (reason: string) => new SchemaError(`Invalid request body: ${reason}`);
export const parseRegisterBody = compileParser(RegisterBody, schemaError);
export const parseExecuteBody = compileParser(ExecuteBody, schemaError);
export const parseBatchBody = compileParser(BatchBody, schemaError);
