/**
 * The SDK's errors, in a module of their own so that code which only
 * recognises them (the CLI printing a failed task) loads nothing else.
 */

import type { ErrorData } from '../shared/errors.js';

/** A REST call answered with an error status. */
export class TaskGridHttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'TaskGridHttpError';
    this.status = status;
    this.code = code;
  }
}

/** A task that ended FAILED (or CANCELLED), carrying the remote error's name, message and stack. */
export class RemoteTaskError extends Error {
  readonly remoteName: string;
  readonly code: string | undefined;
  readonly remoteStack: string | undefined;
  readonly taskId: string;
  constructor(taskId: string, data: ErrorData) {
    super(data.message);
    this.name = data.name;
    this.remoteName = data.name;
    this.code = data.code;
    this.remoteStack = data.stack;
    this.taskId = taskId;
    if (data.stack) this.stack = `${data.name}: ${data.message}\n    (remote) ${data.stack}`;
  }
}
