/**
 * The binary result frame of `/ws/client` (binary-frame.ts), for a socket
 * that asked for it (`?binary_results=1`, which the SDK does): the result's
 * JSON text follows the head as raw bytes, and the head has `result_bytes`
 * in its place (ResultHead). In a text frame a result is JSON text inside
 * JSON: the server escapes every byte of it and the client reads every byte
 * twice (a 64 KiB result cost the server ~100 µs to escape). Only results of
 * BINARY_MIN_CHARS or more go this way; smaller ones stay text.
 */

import {
  BINARY_MIN_CHARS,
  decodeBinaryFrame,
  encodeBinaryFrame,
  planBinaryFrame,
} from './binary-frame.js';
import { ProtocolError } from './errors.js';
import { type ResultHead, ResultHeadSchema, type TaskResultMessage } from './protocol.js';
import { compileParser } from './validate.js';

const parseHead = compileParser(
  ResultHeadSchema,
  (reason) => new ProtocolError(`Malformed result frame head: ${reason}`),
);

/** The binary frame for a result message, or undefined when it goes better as text. */
export function encodeResultFrame(message: TaskResultMessage): Buffer | undefined {
  const { result, status } = message;
  if (result === undefined || result.length < BINARY_MIN_CHARS || status === 'CANCELLED') {
    return undefined;
  }
  const bytes = Buffer.byteLength(result);
  const head: ResultHead = {
    type: 'result',
    task_id: message.task_id,
    status,
    result_bytes: bytes,
  };
  return encodeBinaryFrame(planBinaryFrame(head, [result], bytes));
}

/** Reads a binary result frame into the result message a text frame carries. Throws ProtocolError. */
export function decodeResultFrame(frame: Buffer): TaskResultMessage {
  const { head, texts } = decodeBinaryFrame(frame, 'Result');
  const { result_bytes, ...message } = parseHead(head);
  const result = texts.next(result_bytes);
  texts.end();
  return { ...message, result };
}
