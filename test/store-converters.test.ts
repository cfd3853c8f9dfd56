/**
 * The raw ↔ domain converters of the Redis store: each pair round-trips, and
 * a reply of the wrong shape is a ReplyError that names what was wrong.
 */

import { expect } from 'chai';
import { functionFromHash, functionToHash } from '../server/store/function-hash.js';
import { ReplyError, ReplyReader } from '../server/store/redis-reply.js';
import {
  leasesArgs,
  readCancel,
  readClaim,
  readEnqueue,
  readIds,
  readLeases,
  readRequeue,
  readStaleLeases,
  WORKER_LOST_TEMPLATE,
} from '../server/store/script-io.js';
import { workerLostResult } from '../server/store/store-records.js';
import { taskFromHash, taskToHash } from '../server/store/task-hash.js';
import type { FunctionRecord, TaskRecord } from '../server/store/task-store.js';

const ID = '6b1f3c2e-0000-4000-8000-000000000001';

function task(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: ID,
    function_id: 'f1',
    status: 'COMPLETED',
    args: '[1]',
    result: '"ok"',
    attempts: 2,
    timeout_ms: 1000,
    created_at: 1_700_000_000_000,
    started_at: 1_700_000_000_100,
    finished_at: 1_700_000_000_200,
    run_ms: 1.25,
    owner: undefined,
    priority: 0,
    run_at: undefined,
    deadline_at: undefined,
    retry: undefined,
    progress: undefined,
    errors: [],
    lane: undefined,
    depends_on: undefined,
    ...overrides,
  };
}

/** The error a thunk throws, which must be a ReplyError. */
function replyError(thunk: () => unknown): string {
  try {
    thunk();
  } catch (error) {
    expect(error).to.be.instanceOf(ReplyError);
    return (error as ReplyError).message;
  }
  throw new Error('expected a ReplyError');
}

describe('store converters', () => {
  describe('task hash', () => {
    it('round-trips every field, set or not', () => {
      const queued = task({
        status: 'QUEUED',
        result: undefined,
        attempts: 0,
        started_at: undefined,
        finished_at: undefined,
        run_ms: undefined,
      });
      const running = task({ status: 'RUNNING', owner: 'me/w1', result: undefined });
      for (const record of [task(), queued, running, task({ result: '' })]) {
        expect(taskFromHash(ID, taskToHash(record))).to.deep.equal(record);
      }
    });

    it('reads an empty hash as no task', () => {
      expect(taskFromHash(ID, {})).to.equal(undefined);
      expect(taskFromHash(ID, null)).to.equal(undefined);
    });

    it('names the field that is wrong', () => {
      const raw = taskToHash(task());
      expect(replyError(() => taskFromHash(ID, { ...raw, status: 'DONE' }))).to.match(
        /task .*field `status` should be one of .*got "DONE"/,
      );
      expect(replyError(() => taskFromHash(ID, { ...raw, attempts: 'x' }))).to.match(
        /field `attempts` should be an integer, got "x"/,
      );
      const { fn: _, ...noFn } = raw;
      expect(replyError(() => taskFromHash(ID, noFn))).to.match(/field `fn` is missing/);
      expect(replyError(() => taskFromHash(ID, { ...raw, run_ms: 'NaN' }))).to.match(/run_ms/);
      expect(replyError(() => taskFromHash(ID, ['status', 'QUEUED']))).to.match(/expected a hash/);
    });
  });

  describe('function hash', () => {
    it('round-trips with and without a timeout, which is absent when unset', () => {
      const plain: FunctionRecord = { id: ID, name: 'double', source: 'n => n * 2', created_at: 5 };
      const timed: FunctionRecord = { ...plain, timeout_ms: 250 };
      expect(functionFromHash(ID, functionToHash(plain))).to.deep.equal(plain);
      expect(functionFromHash(ID, functionToHash(timed))).to.deep.equal(timed);
      expect(
        functionFromHash(ID, functionToHash({ ...plain, timeout_ms: undefined })),
      ).to.deep.equal(plain);
      expect(functionFromHash(ID, {})).to.equal(undefined);
    });

    it('names the field that is wrong', () => {
      const raw = functionToHash({ id: ID, name: 'n', source: 's', created_at: 5 });
      expect(replyError(() => functionFromHash(ID, { ...raw, created: '' }))).to.match(
        /function .*field `created` should be an integer/,
      );
      expect(replyError(() => functionFromHash(ID, { name: 'n' }))).to.match(/field `source`/);
    });
  });

  describe('script replies', () => {
    it('reads a claim reply, and refuses one cut short', () => {
      const reply = [
        ...['0', '7', 'a', 'f', '[1]', '1', '1000', '5', '', ''],
        ...['b', 'f', '[2]', '3', '2000', '6', '9000', '-4'],
      ];
      expect(readClaim(new ReplyReader(reply, 'claim'))).to.deep.equal({
        tasks: [
          { id: 'a', fn: 'f', args: '[1]', attempt: 1, timeout_ms: 1000 },
          {
            id: 'b',
            fn: 'f',
            args: '[2]',
            attempt: 3,
            timeout_ms: 2000,
            deadline_at: 9000,
            priority: -4,
          },
        ],
        created: [5, 6],
        drained: false,
        top: 7,
      });
      expect(readClaim(new ReplyReader(['1', ''], 'claim'))).to.deep.equal({
        tasks: [],
        created: [],
        drained: true,
      });
      expect(replyError(() => readClaim(new ReplyReader(reply.slice(0, 13), 'claim')))).to.match(
        /claim: attempt missing at item 13 of 13/,
      );
      expect(replyError(() => readClaim(new ReplyReader(['2', ''], 'claim')))).to.match(/drained/);
      expect(replyError(() => readClaim(new ReplyReader(['0', 'a'], 'claim')))).to.match(/top/);
    });

    it('reads enqueue duplicates, a late run, and refuses positions outside the batch', () => {
      const read = new ReplyReader(['1', '2', 'x'], 'enqueue');
      expect(readEnqueue(read, 2)).to.deep.equal({ duplicates: new Map([[1, 'x']]) });
      expect(readEnqueue(new ReplyReader(['-1'], 'enqueue'), 2)).to.equal(undefined);
      expect(
        replyError(() => readEnqueue(new ReplyReader(['1', '3', 'x'], 'enqueue'), 2)),
      ).to.match(/position 3 for a batch of 2/);
    });

    it('writes and reads lease pairs alike', () => {
      const leases = [
        { id: 'a', attempt: 1 },
        { id: 'b', attempt: 7 },
      ];
      expect(readLeases(new ReplyReader(leasesArgs(leases), 'leases'))).to.deep.equal(leases);
      expect(readStaleLeases(['3', ...leasesArgs(leases)])).to.deep.equal({ cursor: 3, leases });
      expect(replyError(() => readStaleLeases(['0', 'a']))).to.match(/attempt missing/);
    });

    it('reads requeue, cancel and id-list replies', () => {
      expect(readRequeue(['a', 'b', '|', 'c'])).to.deep.equal({
        requeued: ['a', 'b'],
        failed: ['c'],
      });
      expect(replyError(() => readRequeue(['a']))).to.match(/no '\|'/);
      expect(readCancel(['RUNNING', 'me/w1', 1])).to.deep.equal({
        previous: 'RUNNING',
        owner: 'me/w1',
        changed: true,
      });
      expect(readCancel(['FAILED', '', 0])).to.deep.equal({
        previous: 'FAILED',
        owner: undefined,
        changed: false,
      });
      expect(readCancel(null)).to.equal(undefined);
      expect(replyError(() => readCancel(['GONE', '', 0]))).to.match(/previous status/);
      expect(readIds(['a', 'b'], 'complete')).to.deep.equal(['a', 'b']);
      expect(replyError(() => readIds(['a', ''], 'complete'))).to.match(/complete: task id/);
      expect(replyError(() => readIds('a', 'complete'))).to.match(/expected an array/);
    });
  });

  it('gives the requeue script the same retry-cap result the memory store stores', () => {
    // What requeue.lua does: string.gsub(template, '%%d', tostring(losses)).
    expect(WORKER_LOST_TEMPLATE.split('%d')).to.have.length(2);
    expect(WORKER_LOST_TEMPLATE.replace('%d', '3')).to.equal(workerLostResult(3));
    expect(JSON.parse(workerLostResult(3))).to.deep.equal({
      name: 'WorkerLostError',
      message: 'The worker running this task was lost 3 time(s); the retry cap was reached',
      code: 'TG_WORKER_LOST',
      stack: '',
    });
  });
});
