/**
 * Thread entry of FunctionChecker: runs checkFunctionSource on payloads sent
 * by the server's main thread, so that acorn's time on a large source is
 * spent off the event loop that serves everyone else. Runs no user code.
 */

import { parentPort } from 'node:worker_threads';
import { BadPayloadError } from '../shared/errors.js';
import { checkFunctionSource } from './function-source.js';

export type CheckRequest = { id: number; payload: string };
/** No source in the reply: the caller trims its own copy, sparing a 1 MiB copy each way. */
export type CheckReply = { id: number; error?: string };

const port = parentPort;
if (!port) throw new Error('function-checker-thread.js runs only as a worker thread');

port.on('message', ({ id, payload }: CheckRequest) => {
  let reply: CheckReply;
  try {
    checkFunctionSource(payload);
    reply = { id };
  } catch (error) {
    const message =
      error instanceof BadPayloadError
        ? error.message
        : `\`payload\` could not be checked: ${String((error as Error)?.message ?? error)}`;
    reply = { id, error: message };
  }
  port.postMessage(reply);
});
