/**
 * Reply schemas of the task-lifecycle routes (GET /task/:id, GET /tasks,
 * POST /task/:id/retry, GET /functions, GET and DELETE /function/:id), under
 * the names the routes and /openapi.json use. They are defined in shared/
 * (task-info.ts, function-info.ts) because the SDK checks replies with the
 * same schemas; this module names them for the REST side and adds what only
 * the REST side has, the query parameters of GET /tasks.
 */

import { Type } from '@sinclair/typebox';
import {
  DeleteFunctionReplySchema,
  FunctionDetailSchema,
  FunctionListSchema,
} from '../../shared/function-info.js';
import {
  RetryReplySchema,
  TASK_PAGE_LIMIT,
  TaskInfoSchema,
  TaskPageSchema,
} from '../../shared/task-info.js';
import { TASK_STATUSES } from '../../shared/types.js';

export const TaskRecordReply = TaskInfoSchema;
export const TaskListReply = TaskPageSchema;
export const RetryReply = RetryReplySchema;
export const FunctionListReply = FunctionListSchema;
export const FunctionReply = FunctionDetailSchema;
export const DeleteFunctionReply = DeleteFunctionReplySchema;

/** The query parameters of GET /tasks, each as OpenAPI describes a parameter. */
export const TaskListParams = [
  {
    name: 'status',
    in: 'query',
    required: false,
    description: 'Only tasks with this status; `FAILED` is the dead-letter view',
    // An enum rather than the union of literals: what client generators read for a parameter.
    schema: { type: 'string', enum: [...TASK_STATUSES] },
  },
  {
    name: 'function_id',
    in: 'query',
    required: false,
    description: "Only this function's tasks",
    schema: Type.String({ format: 'uuid' }),
  },
  {
    name: 'limit',
    in: 'query',
    required: false,
    description: `Tasks per page (${TASK_PAGE_LIMIT.default} when absent)`,
    schema: Type.Integer({ minimum: 1, maximum: TASK_PAGE_LIMIT.max }),
  },
  {
    name: 'cursor',
    in: 'query',
    required: false,
    description: 'The `next_cursor` of the page before',
    schema: Type.String({ minLength: 1 }),
  },
] as const;
