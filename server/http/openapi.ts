/**
 * The OpenAPI 3 document, built from the same TypeBox schemas that validate
 * requests and type replies (`WorkerInfo` included), so the two cannot drift
 * apart.
 */

import { Type } from '@sinclair/typebox';
import {
  DeleteFunctionReply,
  FunctionListReply,
  FunctionReply,
  RetryReply,
  TaskListParams,
  TaskListReply,
  TaskRecordReply,
} from './lifecycle-schemas.js';
import { schedulePaths } from './schedule-schemas.js';
import {
  BatchBody,
  BatchReply,
  ErrorReply,
  ExecuteBody,
  ExecuteReply,
  RegisterBody,
  RegisterReply,
  ResultReply,
  StatusReply,
  WorkersReply,
} from './schemas.js';

/** TypeBox schemas carry symbol keys; a JSON round trip leaves plain JSON Schema. */
function plain(schema: object): object {
  return JSON.parse(JSON.stringify(schema)) as object;
}

const json = (schema: object) => ({ 'application/json': { schema: plain(schema) } });
const error = (description: string) => ({ description, content: json(ErrorReply) });
const functionIdParam = {
  name: 'function_id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
};
/** Answers every route may give, from the checks in front of all of them. */
const guards = {
  '403': error(
    'No token is set and the request came from a web page of another origin, or by a Host name that is not loopback (DNS rebinding)',
  ),
};
/** And those of every route with a request body. */
const bodyGuards = {
  ...guards,
  '415': error('The body is not `Content-Type: application/json`'),
};
const taskIdParam = {
  name: 'task_id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
};

/** `?wait=<ms>`: GET /result long-polls; POST /execute_function answers with the result. */
const waitParam = (description: string) => ({
  name: 'wait',
  in: 'query',
  required: false,
  description,
  schema: { type: 'integer', minimum: 0, maximum: 30000 },
});

export function openApiDocument(version: string): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'taskgrid',
      version,
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Register a JavaScript function, run it on a task grid, read the results. Every path also accepts a trailing slash. With a token configured, every route but /healthz needs `Authorization: Bearer <token>`. With a tokens file (`--tokens`), each client token belongs to a tenant: its functions and tasks are its own, every other tenant gets 404 for them, and listings show only its own. Without one, requests from a web page of another origin (a foreign `Origin`) or by a non-loopback `Host` name are refused with 403. Request bodies must be `Content-Type: application/json` (415).',
    },
    // `/`, the spec's default made explicit: the grid that serves this document, at whatever address.
    servers: [{ url: '/', description: 'The server that serves this document' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths: {
      ...schedulePaths({ json, error, guards, bodyGuards }),
      '/register_function': {
        post: {
          operationId: 'registerFunction',
          summary: 'Register the source of one JavaScript function',
          requestBody: { required: true, content: json(RegisterBody) },
          responses: {
            '201': { description: 'Registered', content: json(RegisterReply) },
            '400': error('The payload is not exactly one function'),
            '401': error('Token missing or wrong'),
            '413': error('Source or body too large'),
            '422': error('A field is missing or has the wrong type'),
            '429': error('Too many large sources being checked at once'),
            ...bodyGuards,
          },
        },
      },
      '/execute_function': {
        post: {
          operationId: 'executeFunction',
          summary: 'Run a registered function once',
          parameters: [
            waitParam(
              'Wait up to this many ms (at most 30000; larger values are capped) for the task to finish: a task that finishes within it is answered 200 with the body GET /result gives for it, one that does not is answered as without the wait. With a repeated idempotency key, waits for the task stored the first time',
            ),
          ],
          requestBody: { required: true, content: json(ExecuteBody) },
          responses: {
            '200': {
              description:
                'The task finished within `?wait` ({task_id, status, result?} as GET /result), or a repeat of an idempotency key that has not ({task_id} of the task stored the first time)',
              content: json(Type.Union([ResultReply, ExecuteReply])),
            },
            '201': {
              description: 'Stored and queued (and not finished within `?wait`, when given)',
              content: json(ExecuteReply),
            },
            '400': error('The payload is not JSON text of an array, or a malformed wait'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown function'),
            '413': error('Payload too large'),
            '422': error('Schema'),
            '503': error(
              'The store is unreachable or the server is draining; nothing was stored, retry (with an idempotency key to be safe)',
            ),
            '504': error(
              'The store connection broke mid-submit: the task may be stored; retry with the same idempotency key',
            ),
            ...bodyGuards,
          },
        },
      },
      '/execute_batch': {
        post: {
          operationId: 'executeBatch',
          summary: 'Run a registered function many times, all or nothing',
          requestBody: { required: true, content: json(BatchBody) },
          responses: {
            '200': {
              description: 'Every idempotency key was a repeat: the tasks stored the first time',
              content: json(BatchReply),
            },
            '201': { description: 'Stored and queued, ids in order', content: json(BatchReply) },
            '400': error('A payload is not JSON text of an array'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown function'),
            '413': error('Too many payloads, or one too large'),
            '422': error('Schema'),
            '503': error(
              'The store is unreachable or the server is draining; nothing was stored, retry (with an idempotency key to be safe)',
            ),
            '504': error(
              'The store connection broke mid-submit: the task may be stored; retry with the same idempotency key',
            ),
            ...bodyGuards,
          },
        },
      },
      '/functions': {
        get: {
          operationId: 'listFunctions',
          summary: 'Every registered function (without its source)',
          responses: {
            '200': { description: 'The functions', content: json(FunctionListReply) },
            '401': error('Token missing or wrong'),
            ...guards,
          },
        },
      },
      '/function/{function_id}': {
        get: {
          operationId: 'getFunction',
          summary: "A function's record and source",
          parameters: [functionIdParam],
          responses: {
            '200': { description: 'The function', content: json(FunctionReply) },
            '400': error('Malformed id'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown function'),
            ...guards,
          },
        },
        delete: {
          operationId: 'deleteFunction',
          summary:
            'Delete a function: its QUEUED and WAITING tasks become CANCELLED, later submits answer 404, running tasks finish',
          parameters: [functionIdParam],
          responses: {
            '200': {
              description: 'Deleted; `cancelled` counts the tasks it cancelled',
              content: json(DeleteFunctionReply),
            },
            '400': error('Malformed id'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown function'),
            ...guards,
          },
        },
      },
      '/status/{task_id}': {
        get: {
          operationId: 'getStatus',
          summary: "A task's status",
          parameters: [taskIdParam],
          responses: {
            '200': { description: 'Status', content: json(StatusReply) },
            '400': error('Malformed id'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown task'),
            ...guards,
          },
        },
      },
      '/result/{task_id}': {
        get: {
          operationId: 'getResult',
          summary: "A task's status and, once finished, its result",
          parameters: [
            taskIdParam,
            waitParam('Long-poll up to this many ms (at most 30000) for the task to finish'),
          ],
          responses: {
            '200': { description: 'At every status', content: json(ResultReply) },
            '400': error('Malformed id or wait'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown task'),
            '429': error('Too many parked long-polls'),
            ...guards,
          },
        },
      },
      '/task/{task_id}': {
        get: {
          operationId: 'getTask',
          summary: "A task's whole record: status, times, attempts, progress, errors and result",
          parameters: [taskIdParam],
          responses: {
            '200': { description: 'The task', content: json(TaskRecordReply) },
            '400': error('Malformed id'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown task'),
            ...guards,
          },
        },
        delete: {
          operationId: 'cancelTask',
          summary: 'Cancel a task that has not finished',
          parameters: [taskIdParam],
          responses: {
            '200': { description: 'Cancelled', content: json(StatusReply) },
            '400': error('Malformed id'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown task'),
            '409': error('Already finished'),
            ...guards,
          },
        },
      },
      '/task/{task_id}/retry': {
        post: {
          operationId: 'retryTask',
          summary: 'Run a FAILED or CANCELLED task again: a new attempt under the same id',
          parameters: [taskIdParam],
          responses: {
            '200': { description: 'Queued again', content: json(RetryReply) },
            '400': error('Malformed id'),
            '401': error('Token missing or wrong'),
            '404': error('Unknown task'),
            '409': error('The task is neither FAILED nor CANCELLED'),
            ...bodyGuards,
          },
        },
      },
      '/tasks': {
        get: {
          operationId: 'listTasks',
          summary:
            'Tasks, newest first, one page at a time; `?status=FAILED` is the dead-letter view',
          description:
            'Records as GET /task/{task_id} gives them, without `result`. Pass `next_cursor` as `cursor` for the next page.',
          parameters: TaskListParams.map((param) => ({ ...param, schema: plain(param.schema) })),
          responses: {
            '200': { description: 'One page of tasks', content: json(TaskListReply) },
            '400': error('A malformed `status`, `function_id`, `limit` or `cursor`'),
            '401': error('Token missing or wrong'),
            ...guards,
          },
        },
      },
      '/workers': {
        get: {
          operationId: 'listWorkers',
          summary: 'Connected workers and their load',
          description:
            'Without `limit` and `cursor`: an array of every worker. With either: one page in id order, `{workers, total, next_cursor?}`; pass `next_cursor` as `cursor` for the next page. A worker connected through the whole walk is on exactly one page.',
          parameters: [
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: 'Workers per page (100 when only `cursor` is given)',
              schema: { type: 'integer', minimum: 1, maximum: 1000 },
            },
            {
              name: 'cursor',
              in: 'query',
              required: false,
              description: 'The `next_cursor` of the page before',
              schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
            },
          ],
          responses: {
            '200': {
              description: 'Every worker (an array), or one page of them',
              content: json(WorkersReply),
            },
            '400': error('`limit` or `cursor` is malformed'),
            '401': error('Token missing or wrong'),
            ...guards,
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'getHealth',
          summary: 'Whether the store answers',
          security: [],
          responses: {
            '200': { description: 'The store answers' },
            '503': { description: 'The store does not answer' },
            ...guards,
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          responses: {
            '200': { description: 'Prometheus text format', content: { 'text/plain': {} } },
            '401': error('Token missing or wrong'),
            ...guards,
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          responses: {
            '200': { description: 'OpenAPI 3 document', content: { 'application/json': {} } },
            '401': error('Token missing or wrong'),
            ...guards,
          },
        },
      },
      '/': {
        get: {
          operationId: 'getConsole',
          summary:
            'The ops console page (no token needed to load it: it asks for the token and sends it on every request)',
          security: [],
          responses: {
            '200': { description: 'HTML page', content: { 'text/html': {} } },
            ...guards,
          },
        },
      },
    },
  };
}
