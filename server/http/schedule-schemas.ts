/**
 * Schemas of the schedule endpoints (POST /schedules, GET /schedules,
 * DELETE /schedule/:schedule_id): the validators, the reply types and their
 * OpenAPI entries, from one TypeBox definition each. The cron text and the
 * time zone are checked by Cron.parse (400 naming the problem), not here.
 */

import { type Static, Type } from '@sinclair/typebox';
import { SchemaError } from '../../shared/errors.js';
import { PrioritySchema, TimeoutMsSchema } from '../../shared/submit-fields.js';
import { compileParser } from '../../shared/validate.js';

export const ScheduleBody = Type.Object({
  function_id: Type.String(),
  cron: Type.String({
    description:
      '5 fields: minute hour day-of-month month day-of-week (`*`, lists, ranges, steps, names such as MON and JAN); 6 with a leading seconds field',
  }),
  payload: Type.String({
    description: 'JSON text of the argument array each fire submits, e.g. "[2]"',
  }),
  timezone: Type.Optional(
    Type.String({
      description: 'IANA time zone the cron is read in, e.g. Europe/Paris; UTC by default',
    }),
  ),
  priority: Type.Optional(PrioritySchema),
  timeout_ms: Type.Optional(TimeoutMsSchema),
});
export type ScheduleBody = Static<typeof ScheduleBody>;

const Ms = (description: string) => Type.Integer({ description });

export const CreateScheduleReply = Type.Object({
  schedule_id: Type.String({ format: 'uuid' }),
  next_run_at: Ms('The first fire (ms since the epoch)'),
});

export const ScheduleView = Type.Object({
  schedule_id: Type.String({ format: 'uuid' }),
  function_id: Type.String({ format: 'uuid' }),
  cron: Type.String(),
  payload: Type.String(),
  timezone: Type.Optional(Type.String()),
  priority: Type.Optional(Type.Integer()),
  timeout_ms: Type.Optional(Type.Integer()),
  next_run_at: Ms('The next fire (ms since the epoch)'),
  created_at: Ms('ms since the epoch'),
  last_run_at: Type.Optional(Ms('When the last fire happened (ms since the epoch)')),
  last_task_id: Type.Optional(Type.String({ description: 'The task the last fire submitted' })),
});
export type ScheduleView = Static<typeof ScheduleView>;

export const SchedulesReply = Type.Object({ schedules: Type.Array(ScheduleView) });

export const DeleteScheduleReply = Type.Object({
  schedule_id: Type.String({ format: 'uuid' }),
  deleted: Type.Literal(true),
});

export const parseScheduleBody = compileParser(
  ScheduleBody,
  (reason) => new SchemaError(`Invalid request body: ${reason}`),
);

/** What openapi.ts builds its entries with. */
export interface OpenApiHelpers {
  json: (schema: object) => object;
  error: (description: string) => object;
  guards: Record<string, object>;
  bodyGuards: Record<string, object>;
}

export function schedulePaths({ json, error, guards, bodyGuards }: OpenApiHelpers): object {
  return {
    '/schedules': {
      post: {
        operationId: 'createSchedule',
        summary: 'Run a registered function on a cron schedule, once per slot across all servers',
        description:
          'A slot missed while no server ran fires once when one comes back, then the schedule goes on from the next slot to come. Each fire is an ordinary task.',
        requestBody: { required: true, content: json(ScheduleBody) },
        responses: {
          '201': { description: 'Scheduled', content: json(CreateScheduleReply) },
          '400': error('Bad cron, time zone, or payload (not JSON text of an array)'),
          '401': error('Token missing or wrong'),
          '404': error('Unknown function'),
          '413': error('Payload too large'),
          '422': error('A field is missing or has the wrong type'),
          ...bodyGuards,
        },
      },
      get: {
        operationId: 'listSchedules',
        summary: 'Every schedule, the next to fire first',
        responses: {
          '200': { description: 'Schedules', content: json(SchedulesReply) },
          '401': error('Token missing or wrong'),
          ...guards,
        },
      },
    },
    '/schedule/{schedule_id}': {
      delete: {
        operationId: 'deleteSchedule',
        summary: 'Delete a schedule; tasks it already submitted are left as they are',
        parameters: [
          {
            name: 'schedule_id',
            in: 'path',
            required: true,
            schema: { type: 'string', format: 'uuid' },
          },
        ],
        responses: {
          '200': { description: 'Deleted', content: json(DeleteScheduleReply) },
          '400': error('Malformed id'),
          '401': error('Token missing or wrong'),
          '404': error('Unknown schedule'),
          ...guards,
        },
      },
    },
  };
}
