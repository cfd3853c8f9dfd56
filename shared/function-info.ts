/**
 * What the server says about a registered function (GET /functions, GET
 * /function/:id, DELETE /function/:id): one TypeBox schema each for the
 * server's reply, the OpenAPI entry and the SDK's check of the reply.
 */

import { type Static, Type } from '@sinclair/typebox';
import { RetryPolicySchema, TimeoutMsSchema } from './submit-fields.js';

/** A function as GET /functions lists it. */
export const FunctionInfoSchema = Type.Object({
  function_id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  created_at: Type.Integer({ minimum: 0, description: 'When it was registered (ms since epoch)' }),
  timeout_ms: Type.Optional(TimeoutMsSchema),
  retry: Type.Optional(RetryPolicySchema),
  labels: Type.Optional(
    Type.Array(Type.String(), { description: 'Its tasks run only on workers with all of these' }),
  ),
  concurrency: Type.Optional(
    Type.Integer({ minimum: 1, description: 'At most this many of its tasks RUNNING at once' }),
  ),
});

/** GET /function/:function_id: the listed record and the source text. */
export const FunctionDetailSchema = Type.Object({
  ...FunctionInfoSchema.properties,
  source: Type.String({ description: 'Source text of the function, as registered' }),
});

export const FunctionListSchema = Type.Object({ functions: Type.Array(FunctionInfoSchema) });

/** DELETE /function/:function_id: how many QUEUED or WAITING tasks of it became CANCELLED. */
export const DeleteFunctionReplySchema = Type.Object({
  function_id: Type.String({ format: 'uuid' }),
  cancelled: Type.Integer({ minimum: 0 }),
});

export type FunctionInfoReply = Static<typeof FunctionInfoSchema>;
export type FunctionDetailReply = Static<typeof FunctionDetailSchema>;
export type FunctionListReply = Static<typeof FunctionListSchema>;
export type DeleteFunctionReply = Static<typeof DeleteFunctionReplySchema>;
