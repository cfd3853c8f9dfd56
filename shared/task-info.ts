/**
 * What the server says about a task (GET /task/:id, GET /tasks, POST
 * /task/:id/retry). One TypeBox schema is the server's reply type, the
 * OpenAPI entry and the SDK's check of the reply, so the three cannot drift
 * apart (as worker-info.ts does for GET /workers). Times are ms since the
 * epoch; absent fields are absent, never null.
 */

import { type Static, Type } from '@sinclair/typebox';
import { PRIORITY_RANGE } from './submit-fields.js';
import { TASK_STATUSES } from './types.js';

export const TaskStatusSchema = Type.Union(TASK_STATUSES.map((s) => Type.Literal(s)));

const EpochMs = (description: string) => Type.Integer({ minimum: 0, description });

/** GET /tasks pages: `limit` is at most `max`, `default` when absent. */
export const TASK_PAGE_LIMIT = { default: 100, max: 1000 } as const;

export const TaskProgressSchema = Type.Object({
  value: Type.Number({ minimum: 0, maximum: 1 }),
  note: Type.Optional(Type.String()),
  at: EpochMs('When the server received it'),
});

export const TaskErrorSchema = Type.Object({
  attempt: Type.Integer({ minimum: 0 }),
  name: Type.String(),
  message: Type.String(),
});

/** A task as GET /tasks lists it: everything GET /task/:id says but its result. */
export const TaskSummarySchema = Type.Object({
  task_id: Type.String({ format: 'uuid' }),
  function_id: Type.String({ format: 'uuid' }),
  status: TaskStatusSchema,
  priority: Type.Integer({ minimum: PRIORITY_RANGE.min, maximum: PRIORITY_RANGE.max }),
  attempts: Type.Integer({ minimum: 0, description: 'Runs started so far' }),
  created_at: EpochMs('When it was submitted'),
  started_at: Type.Optional(
    EpochMs(
      'When the function began to run in its thread (a lease taken ahead of time is not a start)',
    ),
  ),
  finished_at: Type.Optional(EpochMs('When it reached COMPLETED, FAILED or CANCELLED')),
  run_at: Type.Optional(EpochMs('When a WAITING task becomes QUEUED (a delay or a retry backoff)')),
  deadline_at: Type.Optional(EpochMs('Not started by then: FAILED with DeadlineExceededError')),
  depends_on: Type.Optional(Type.Array(Type.String(), { description: 'Task ids it waits for' })),
  labels: Type.Optional(Type.Array(Type.String())),
  waiting_for: Type.Optional(
    Type.String({ description: 'QUEUED with labels no connected worker has: who it waits for' }),
  ),
  progress: Type.Optional(TaskProgressSchema),
  worker: Type.Optional(
    Type.String({
      description:
        "`<server instance>/<worker id>` holding it while RUNNING, or that ran the attempt that finished it (`<instance>/local`: the server's own threads)",
    }),
  ),
  errors: Type.Optional(
    Type.Array(TaskErrorSchema, { description: 'The error of each failed run, oldest first' }),
  ),
});

/** GET /task/:task_id. */
export const TaskInfoSchema = Type.Object({
  ...TaskSummarySchema.properties,
  args: Type.Optional(
    Type.String({
      description:
        'JSON text of the argument array, as submitted; a `{"$task"}` reference is replaced by that task\'s result once it COMPLETED',
    }),
  ),
  result: Type.Optional(
    Type.String({
      description:
        'JSON text of the return value (COMPLETED) or of {name, message, stack} (FAILED), as GET /result gives it',
    }),
  ),
});

/** GET /tasks: newest first; `next_cursor` while more follow. */
export const TaskPageSchema = Type.Object({
  tasks: Type.Array(TaskSummarySchema),
  next_cursor: Type.Optional(
    Type.String({ description: 'Pass as `cursor` for the next page; absent on the last page' }),
  ),
});

/** POST /task/:task_id/retry: a new attempt of the same task. */
export const RetryReplySchema = Type.Object({
  task_id: Type.String({ format: 'uuid' }),
  status: Type.Literal('QUEUED'),
});

export type TaskSummaryReply = Static<typeof TaskSummarySchema>;
export type TaskInfoReply = Static<typeof TaskInfoSchema>;
export type TaskPageReply = Static<typeof TaskPageSchema>;
export type RetryReply = Static<typeof RetryReplySchema>;
