/** Binary tasks and results frames: what one side builds, the other reads back as the text frame's message. */

import { expect } from 'chai';
import { decodeResultFrame, encodeResultFrame } from '../shared/client-result-frame.js';
import { ProtocolError } from '../shared/errors.js';
import { decodeResultsFrame, encodeResultsFrame } from '../shared/results-frame.js';
import { decodeTasksFrame, encodeTasksFrame, planTasksFrame } from '../shared/tasks-frame.js';
import type { FunctionSource, TaskAssignment, TaskOutcome } from '../shared/types.js';

const FN = '6f1c1a52-6f0e-4a39-9b9e-4a1f4d2b8f01';
const functions: FunctionSource[] = [{ id: FN, source: 'function f(s) { return s }' }];

function task(i: number, args: string): TaskAssignment {
  return {
    id: `00000000-0000-4000-8000-00000000000${i}`,
    fn: FN,
    args,
    attempt: 1,
    timeout_ms: 5000,
  };
}

function frameOf(tasks: TaskAssignment[]): Buffer {
  return encodeTasksFrame(planTasksFrame(tasks, functions));
}

function refusal(frame: Buffer): string {
  try {
    decodeTasksFrame(frame);
  } catch (error) {
    expect(error).to.be.instanceOf(ProtocolError);
    return (error as Error).message;
  }
  throw new Error('the frame was read');
}

describe('binary frames', () => {
  it('tasks: carry every task, arguments byte for byte, multi-byte and escapes included', () => {
    const tasks = [
      task(1, '["x"]'),
      task(2, JSON.stringify(['é✓😀', 'a"b\\c\n', { k: [1, 2] }])),
      task(3, '[]'),
      task(4, JSON.stringify(['y'.repeat(70_000)])),
    ];
    const plan = planTasksFrame(tasks, functions);
    const frame = encodeTasksFrame(plan);
    expect(frame.length).to.equal(plan.bytes);
    expect(decodeTasksFrame(frame)).to.deep.equal({ type: 'tasks', functions, tasks });
  });

  it('holds each argument once, unescaped', () => {
    const args = JSON.stringify(['"quoted"'.repeat(1000)]);
    const frame = frameOf([task(1, args)]);
    expect(frame.length).to.be.below(Buffer.byteLength(args) + 1000);
  });

  it('refuses a frame cut short, one with bytes to spare, and a malformed head', () => {
    const frame = frameOf([task(1, '["abc"]'), task(2, '[1]')]);
    expect(refusal(frame.subarray(0, 2))).to.match(/cut short/);
    expect(refusal(frame.subarray(0, frame.length - 1))).to.match(/cut short/);
    expect(refusal(Buffer.concat([frame, Buffer.from('x')]))).to.match(/past its texts/);
    const head = Buffer.from('{"type":"tasks","functions":[],"tasks":[{"id":"a"}]}');
    const bad = Buffer.alloc(4 + head.length);
    bad.writeUInt32BE(head.length, 0);
    head.copy(bad, 4);
    expect(refusal(bad)).to.match(/Malformed tasks frame head/);
    const deep = Buffer.from('['.repeat(100));
    const nested = Buffer.alloc(4 + deep.length);
    nested.writeUInt32BE(deep.length, 0);
    deep.copy(nested, 4);
    expect(refusal(nested)).to.match(/refused/);
  });

  it('results: carries every outcome, values byte for byte', () => {
    const results: TaskOutcome[] = [
      {
        id: task(1, '').id,
        attempt: 2,
        status: 'COMPLETED',
        value: JSON.stringify('ü'.repeat(70_000)),
        run_ms: 1.5,
      },
      {
        id: task(2, '').id,
        attempt: 0,
        status: 'FAILED',
        value: '{"name":"Error","message":"\\"x\\""}',
        run_ms: 0,
      },
      { id: task(3, '').id, attempt: 1, status: 'CANCELLED', value: 'null', run_ms: 0 },
    ];
    expect(decodeResultsFrame(encodeResultsFrame(results))).to.deep.equal({
      type: 'results',
      results,
    });
    const frame = encodeResultsFrame(results);
    expect(() => decodeResultsFrame(frame.subarray(0, frame.length - 1))).to.throw(
      ProtocolError,
      /cut short/,
    );
  });

  it('client results: a large result goes binary and reads back as the text frame’s message; small and cancelled ones stay text', () => {
    const id = '00000000-0000-4000-8000-000000000009';
    const result = JSON.stringify('é"\\😀'.repeat(5_000));
    const frame = encodeResultFrame({ type: 'result', task_id: id, status: 'COMPLETED', result });
    expect(frame).to.be.instanceOf(Buffer);
    expect(decodeResultFrame(frame as Buffer)).to.deep.equal({
      type: 'result',
      task_id: id,
      status: 'COMPLETED',
      result,
    });
    expect(
      encodeResultFrame({ type: 'result', task_id: id, status: 'FAILED', result: '"x"' }),
    ).to.equal(undefined);
    expect(encodeResultFrame({ type: 'result', task_id: id, status: 'CANCELLED' })).to.equal(
      undefined,
    );
    // Cut short, or a head that is not a result's: refused, not read.
    expect(() =>
      decodeResultFrame((frame as Buffer).subarray(0, (frame as Buffer).length - 1)),
    ).to.throw(ProtocolError);
    const wrong = Buffer.from(
      JSON.stringify({ type: 'result', task_id: id, status: 'CANCELLED', result_bytes: 0 }),
    );
    const head = Buffer.alloc(4);
    head.writeUInt32BE(wrong.length);
    expect(() => decodeResultFrame(Buffer.concat([head, wrong]))).to.throw(
      ProtocolError,
      /Malformed result frame head/,
    );
  });
});
