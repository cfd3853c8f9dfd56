/**
 * The binary `submit_batch` frame (binary-frame.ts) a client sends on
 * `/ws/client`: a batch's argument texts follow the head as raw UTF-8, so
 * neither side escapes them into, or unescapes them out of, a JSON body
 * (POST /execute_batch carries JSON text inside JSON text, which the server
 * parses character by character: ~60% of its CPU with 64 KiB arguments).
 */

import {
  decodeBinaryFrame,
  encodeBinaryFrame,
  planBinaryFrame,
  textLengths,
} from './binary-frame.js';
import { ProtocolError } from './errors.js';
import {
  type SubmitBatchHead,
  SubmitBatchHeadSchema,
  type SubmitBatchMessage,
  type SubmitBatchOutgoing,
} from './protocol.js';
import { compileParser } from './validate.js';

const parseHead = compileParser(
  SubmitBatchHeadSchema,
  (reason) => new ProtocolError(`Malformed submit_batch frame head: ${reason}`),
);

export function encodeSubmitBatchFrame(message: SubmitBatchOutgoing): Buffer {
  const { payloads, ...rest } = message;
  const { lengths, total } = textLengths(payloads);
  const head: SubmitBatchHead = { ...rest, payload_bytes: lengths };
  return encodeBinaryFrame(planBinaryFrame(head, payloads, total));
}

/** Reads a submit_batch frame. Throws ProtocolError (the socket closes with 4400). */
export function decodeSubmitBatchFrame(frame: Buffer): SubmitBatchMessage {
  const { head, texts } = decodeBinaryFrame(frame, 'submit_batch');
  const { payload_bytes, ...rest } = parseHead(head);
  const payloads = payload_bytes.map((bytes) => texts.nextBytes(bytes));
  texts.end();
  return { ...rest, payloads };
}
