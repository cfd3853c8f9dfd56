/**
 * The binary results frame (binary-frame.ts), which a worker sends to a
 * server that says `binary_results` in its welcome: each result's value text
 * follows the head as raw bytes, and the head has `value_bytes` in its place
 * (ResultsHead).
 */

import {
  decodeBinaryFrame,
  encodeBinaryFrame,
  planBinaryFrame,
  textLengths,
} from './binary-frame.js';
import { ProtocolError } from './errors.js';
import { type ResultsHead, ResultsHeadSchema, type ResultsMessage } from './protocol.js';
import type { TaskOutcome } from './types.js';
import { compileParser } from './validate.js';

const parseHead = compileParser(
  ResultsHeadSchema,
  (reason) => new ProtocolError(`Malformed results frame head: ${reason}`),
);

export function encodeResultsFrame(outcomes: readonly TaskOutcome[]): Buffer {
  const texts = outcomes.map((o) => o.value);
  const { lengths, total } = textLengths(texts);
  const head: ResultsHead = {
    type: 'results',
    results: outcomes.map((o, i) => ({
      id: o.id,
      attempt: o.attempt,
      status: o.status,
      run_ms: o.run_ms,
      value_bytes: lengths[i] ?? 0,
    })),
  };
  return encodeBinaryFrame(planBinaryFrame(head, texts, total));
}

/** Reads a binary results frame into the results message a text frame carries. Throws ProtocolError. */
export function decodeResultsFrame(frame: Buffer): ResultsMessage {
  const { head, texts } = decodeBinaryFrame(frame, 'Results');
  const { results } = parseHead(head);
  const out = results.map(({ value_bytes, ...outcome }) => ({
    ...outcome,
    value: texts.next(value_bytes),
  }));
  texts.end();
  return { type: 'results', results: out };
}
