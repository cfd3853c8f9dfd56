/**
 * The SDK's side of the task lifecycle, without a server: submit options and
 * task filters are checked before anything is sent (an OptionError naming
 * the option), converted to the wire's fields, and the socket's `submit`
 * frame takes exactly the REST body's bounds; replies are checked against
 * the schemas /openapi.json publishes and converted to camelCase records.
 */

import { expect } from 'chai';
import { submitFields, submitOptions } from '../client/submit-options.js';
import { taskFilter, taskQuery } from '../client/task-filter.js';
import {
  functionDetails,
  functionList,
  parseDeleteFunctionReply,
  parseRetryReply,
  taskDetails,
  taskPage,
} from '../client/task-records.js';
import {
  DeleteFunctionReply,
  FunctionListReply,
  FunctionReply,
  RetryReply,
  TaskListReply,
  TaskRecordReply,
} from '../server/http/lifecycle-schemas.js';
import { openApiDocument } from '../server/http/openapi.js';
import { parseExecuteBody } from '../server/http/schemas.js';
import { ProtocolError } from '../shared/errors.js';
import { OptionError } from '../shared/options.js';
import { parseClientMessage } from '../shared/protocol.js';

const TASK = '0b7a7f0e-3c1e-4a43-9a8e-8b1f5a3d2c11';
const FN = '5d0c1a52-61e5-4c4b-b0a2-2f0b6a1f9e01';

/** [options, the option the error names] */
const WRONG: [unknown, string][] = [
  [{ priority: 101 }, 'priority'],
  [{ priority: -101 }, 'priority'],
  [{ priority: 1.5 }, 'priority'],
  [{ priority: '5' }, 'priority'],
  [{ delayMs: -1 }, 'delayMs'],
  [{ delayMs: 2_592_000_001 }, 'delayMs'],
  [{ deadlineMs: 0 }, 'deadlineMs'],
  [{ timeoutMs: 0 }, 'timeoutMs'],
  [{ retry: 3 }, 'retry'],
  [{ retry: { maxAttempts: 0, backoff: 'fixed', delayMs: 0 } }, 'retry.maxAttempts'],
  [{ retry: { maxAttempts: 101, backoff: 'fixed', delayMs: 0 } }, 'retry.maxAttempts'],
  [{ retry: { maxAttempts: 2, backoff: 'linear', delayMs: 0 } }, 'retry.backoff'],
  [{ retry: { maxAttempts: 2, backoff: 'fixed' } }, 'retry.delayMs'],
  [{ retry: { maxAttempts: 2, backoff: 'fixed', delayMs: 0, maxDelayMs: -1 } }, 'retry.maxDelayMs'],
  [{ retry: { maxAttempts: 2, backoff: 'fixed', delayMs: 0, jitter: true } }, 'retry.jitter'],
  [{ idempotencyKey: '' }, 'idempotencyKey'],
  [{ idempotencyKey: 'k'.repeat(257) }, 'idempotencyKey'],
  [{ labels: 'gpu' }, 'labels'],
  [{ labels: ['gpu', 'has space'] }, 'labels'],
  [{ labels: Array.from({ length: 33 }, (_, i) => `l${i}`) }, 'labels'],
  [{ priorty: 1 }, 'priorty'],
  ['fast', 'options'],
];

describe('SDK lifecycle options and records', () => {
  describe('submit options', () => {
    for (const [options, option] of WRONG) {
      it(`refuses ${JSON.stringify(options).slice(0, 70)}, naming \`${option}\``, () => {
        let caught: unknown;
        try {
          submitFields(options);
        } catch (error) {
          caught = error;
        }
        expect(caught).to.be.instanceOf(OptionError);
        expect((caught as OptionError).option).to.equal(option);
        expect((caught as OptionError).message).to.match(/^Expected `|^Unknown option `/);
      });
    }

    it('converts every option to the wire field the REST body and the socket frame take', () => {
      const options = {
        priority: -100,
        delayMs: 0,
        deadlineMs: 60_000,
        timeoutMs: 5000,
        retry: { maxAttempts: 3, backoff: 'exponential', delayMs: 100, maxDelayMs: 1000 },
        labels: ['gpu', 'region=eu'],
        idempotencyKey: 'order-17',
      };
      const fields = submitFields(options);
      expect(fields).to.deep.equal({
        priority: -100,
        delay_ms: 0,
        deadline_ms: 60_000,
        timeout_ms: 5000,
        retry: { max_attempts: 3, backoff: 'exponential', delay_ms: 100, max_delay_ms: 1000 },
        labels: ['gpu', 'region=eu'],
        idempotency_key: 'order-17',
      });
      expect(submitOptions(options)).to.deep.equal(options);
      expect(submitFields(undefined)).to.deep.equal({});
      const frame = { type: 'submit', ref: '1', function_id: FN, payload: '[1]', ...fields };
      expect(parseClientMessage(JSON.stringify(frame))).to.deep.equal(frame);
      const body = { function_id: FN, payload: '[1]', ...fields };
      expect(parseExecuteBody(body)).to.deep.equal(body);
    });

    it('the socket frame refuses what the REST body refuses', () => {
      for (const wrong of [
        { priority: 101 },
        { delay_ms: -1 },
        { deadline_ms: 0 },
        { retry: { max_attempts: 2, backoff: 'linear', delay_ms: 0 } },
        { labels: ['has space'] },
      ]) {
        const frame = { type: 'submit', ref: '1', function_id: FN, payload: '[1]', ...wrong };
        expect(() => parseClientMessage(JSON.stringify(frame))).to.throw(ProtocolError);
        expect(() => parseExecuteBody({ function_id: FN, payload: '[1]', ...wrong })).to.throw();
      }
    });
  });

  describe('task filters', () => {
    it('builds the GET /tasks query', () => {
      expect(taskQuery({})).to.equal('');
      expect(taskQuery({ status: 'FAILED', functionId: FN, limit: 1000, cursor: 'c/1' })).to.equal(
        `?status=FAILED&function_id=${FN}&limit=1000&cursor=c%2F1`,
      );
    });
    for (const [filter, option] of [
      [{ status: 'failed' }, 'status'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 1001 }, 'limit'],
      [{ functionId: '' }, 'functionId'],
      [{ cursor: 7 }, 'cursor'],
      [{ state: 'FAILED' }, 'filter.state'],
    ] as const) {
      it(`refuses ${JSON.stringify(filter)}, naming \`${option}\``, () => {
        expect(() => taskFilter(filter))
          .to.throw(OptionError)
          .with.property('option', option);
      });
    }
  });

  describe('replies', () => {
    const failed = {
      task_id: TASK,
      function_id: FN,
      status: 'FAILED',
      priority: 5,
      attempts: 2,
      created_at: 1_000,
      started_at: 1_100,
      finished_at: 1_200,
      deadline_at: 9_000,
      progress: { value: 0.5, note: 'half', at: 1_150 },
      errors: [{ attempt: 1, name: 'RangeError', message: 'first' }],
      result: JSON.stringify({
        name: 'RangeError',
        message: 'second',
        stack: 'RangeError: second',
      }),
    };

    it('converts GET /task to a camelCase record with the outcome parsed', () => {
      expect(taskDetails(failed)).to.deep.equal({
        id: TASK,
        functionId: FN,
        status: 'FAILED',
        priority: 5,
        attempts: 2,
        createdAt: 1_000,
        startedAt: 1_100,
        finishedAt: 1_200,
        deadlineAt: 9_000,
        progress: { value: 0.5, note: 'half', at: 1_150 },
        errors: [{ attempt: 1, name: 'RangeError', message: 'first' }],
        error: { name: 'RangeError', message: 'second', stack: 'RangeError: second' },
      });
      const done = { ...failed, status: 'COMPLETED', result: '{"n":42}', errors: undefined };
      const record = taskDetails(JSON.parse(JSON.stringify(done)));
      expect(record.result).to.deep.equal({ n: 42 });
      expect(record.errors).to.deep.equal([]);
      expect(record).to.not.have.property('error');
    });

    it('converts GET /tasks, GET /functions, GET /function, retry and delete replies', () => {
      const { result: _, ...summary } = failed;
      expect(taskPage({ tasks: [summary], next_cursor: 'next' })).to.deep.include({
        nextCursor: 'next',
      });
      expect(taskPage({ tasks: [] })).to.deep.equal({ tasks: [] });
      const fn = {
        function_id: FN,
        name: 'double',
        created_at: 5,
        timeout_ms: 1000,
        retry: { max_attempts: 2, backoff: 'fixed', delay_ms: 10 },
      };
      expect(functionList({ functions: [fn] })).to.deep.equal([
        {
          id: FN,
          name: 'double',
          createdAt: 5,
          timeoutMs: 1000,
          retry: { maxAttempts: 2, backoff: 'fixed', delayMs: 10 },
        },
      ]);
      expect(functionDetails({ ...fn, source: 'function double(n) { return 2 * n }' }))
        .to.have.property('source')
        .that.matches(/double/);
      expect(parseRetryReply({ task_id: TASK, status: 'QUEUED' }).status).to.equal('QUEUED');
      expect(parseDeleteFunctionReply({ function_id: FN, cancelled: 3 }).cancelled).to.equal(3);
    });

    it('refuses a reply that does not fit the published schema', () => {
      expect(() => taskDetails({ ...failed, status: 'LOST' })).to.throw(ProtocolError, /status/);
      expect(() => taskDetails({ ...failed, task_id: 'nope' })).to.throw(ProtocolError, /task_id/);
      expect(() => taskPage({ tasks: {} })).to.throw(ProtocolError);
      expect(() => parseRetryReply({ task_id: TASK, status: 'RUNNING' })).to.throw(ProtocolError);
      expect(() => parseDeleteFunctionReply({ function_id: FN, deleted: true })).to.throw(
        ProtocolError,
      );
    });
  });

  it('/openapi.json publishes exactly the reply schemas the routes and the SDK use', () => {
    type Doc = {
      paths: Record<
        string,
        Record<
          string,
          { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }
        >
      >;
    };
    const doc = JSON.parse(JSON.stringify(openApiDocument('test'))) as Doc;
    const published = (path: string, method: string) =>
      doc.paths[path]?.[method]?.responses['200']?.content?.['application/json']?.schema;
    const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as unknown;
    expect(published('/task/{task_id}', 'get')).to.deep.equal(plain(TaskRecordReply));
    expect(published('/tasks', 'get')).to.deep.equal(plain(TaskListReply));
    expect(published('/task/{task_id}/retry', 'post')).to.deep.equal(plain(RetryReply));
    expect(published('/functions', 'get')).to.deep.equal(plain(FunctionListReply));
    expect(published('/function/{function_id}', 'get')).to.deep.equal(plain(FunctionReply));
    expect(published('/function/{function_id}', 'delete')).to.deep.equal(
      plain(DeleteFunctionReply),
    );
  });
});
