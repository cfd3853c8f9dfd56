/**
 * One error taxonomy for the whole grid. Every error has a stable `code`; one
 * table maps each code to the HTTP status the REST API answers with and the
 * WebSocket close code the gateway uses. Errors cross the wire as data
 * (`ErrorData`), never as thrown objects.
 */

import { CloseCode } from './close-codes.js';

export interface ErrorData {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export const ERROR_TABLE = {
  TG_BAD_PAYLOAD: { http: 400, close: CloseCode.BadFrame },
  TG_BAD_ID: { http: 400, close: CloseCode.BadFrame },
  TG_UNAUTHORIZED: { http: 401, close: CloseCode.Unauthorized },
  TG_FORBIDDEN_ORIGIN: { http: 403, close: CloseCode.ForbiddenOrigin },
  TG_NOT_FOUND: { http: 404, close: CloseCode.NotFound },
  TG_CONFLICT: { http: 409, close: CloseCode.Replaced },
  TG_TOO_LARGE: { http: 413, close: CloseCode.TooLarge },
  TG_UNSUPPORTED_MEDIA_TYPE: { http: 415, close: CloseCode.UnsupportedMediaType },
  TG_SCHEMA: { http: 422, close: CloseCode.BadFrame },
  TG_TOO_MANY: { http: 429, close: CloseCode.TooMany },
  TG_UNAVAILABLE: { http: 503, close: CloseCode.TryAgainLater },
  TG_OUTCOME_UNKNOWN: { http: 504, close: CloseCode.InternalError },
  TG_PROTOCOL: { http: 400, close: CloseCode.BadFrame },
  TG_PROTOCOL_VERSION: { http: 400, close: CloseCode.VersionMismatch },
  TG_HEARTBEAT: { http: 500, close: CloseCode.MissedHeartbeats },
  TG_CONFIG: { http: 500, close: CloseCode.InternalError },
  TG_TASK_TIMEOUT: { http: 500, close: CloseCode.InternalError },
  TG_WORKER_LOST: { http: 500, close: CloseCode.InternalError },
  TG_DEADLINE_EXCEEDED: { http: 500, close: CloseCode.InternalError },
  TG_DEPENDENCY_FAILED: { http: 500, close: CloseCode.InternalError },
  TG_THREAD_EXIT: { http: 500, close: CloseCode.InternalError },
  TG_RESULT_TOO_LARGE: { http: 500, close: CloseCode.InternalError },
  TG_CANCELLED: { http: 500, close: CloseCode.InternalError },
  TG_BAD_RESULT: { http: 500, close: CloseCode.InternalError },
  TG_INTERNAL: { http: 500, close: CloseCode.InternalError },
} as const satisfies Record<string, { http: number; close: CloseCode }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/** The HTTP status of a code read off the wire; 500 for a code this version does not know. */
export function httpStatusOf(code: string): number {
  for (const [known, row] of Object.entries(ERROR_TABLE)) if (known === code) return row.http;
  return 500;
}

export class TaskgridError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
  get httpStatus(): number {
    return ERROR_TABLE[this.code].http;
  }
  get closeCode(): CloseCode {
    return ERROR_TABLE[this.code].close;
  }
  /** No stack: it would show the grid's own code and paths, never the task's. */
  toData(): ErrorData {
    return { name: this.name, message: this.message, code: this.code, stack: '' };
  }
}

/** 400: the function source or the argument payload is not what the API takes. */
export class BadPayloadError extends TaskgridError {
  constructor(message: string) {
    super('TG_BAD_PAYLOAD', message);
  }
}
/** 400: an id in a path is not a UUID. */
export class BadIdError extends TaskgridError {
  constructor(what: string, value: string) {
    super('TG_BAD_ID', `Expected \`${what}\` to be a UUID, got \`${value.slice(0, 64)}\``);
  }
}
export class UnauthorizedError extends TaskgridError {
  constructor(message = 'A valid bearer token is required (Authorization: Bearer <token>)') {
    super('TG_UNAUTHORIZED', message);
  }
}
/**
 * 403: a request or socket a web page may have made (a foreign `Origin`, or a
 * `Host` that is not loopback on a loopback server) while no token is set.
 */
export class ForbiddenOriginError extends TaskgridError {
  constructor(message: string) {
    super('TG_FORBIDDEN_ORIGIN', message);
  }
}
export class NotFoundError extends TaskgridError {
  constructor(message: string) {
    super('TG_NOT_FOUND', message);
  }
}
export class ConflictError extends TaskgridError {
  constructor(message: string) {
    super('TG_CONFLICT', message);
  }
}
export class TooLargeError extends TaskgridError {
  constructor(message: string) {
    super('TG_TOO_LARGE', message);
  }
}
/** 415: a request body that is not `Content-Type: application/json`. */
export class UnsupportedMediaTypeError extends TaskgridError {
  constructor(got: string | undefined) {
    super(
      'TG_UNSUPPORTED_MEDIA_TYPE',
      `Expected \`Content-Type: application/json\`, got \`${(got ?? '(none)').slice(0, 64)}\``,
    );
  }
}
/** 422: a field is missing or has the wrong type. */
export class SchemaError extends TaskgridError {
  constructor(message: string) {
    super('TG_SCHEMA', message);
  }
}
export class TooManyError extends TaskgridError {
  constructor(message: string) {
    super('TG_TOO_MANY', message);
  }
}
/** 503: the store does not answer, or the server is draining. */
export class UnavailableError extends TaskgridError {
  constructor(message: string) {
    super('TG_UNAVAILABLE', message);
  }
}
/**
 * The store's connection broke after a write was sent: it may or may not have
 * been applied. Not a 503, which promises nothing was stored: retry with the
 * same idempotency key to find out (a stored task is answered 200).
 */
export class UnknownOutcomeError extends TaskgridError {
  constructor(message: string) {
    super('TG_OUTCOME_UNKNOWN', message);
  }
}
export class ProtocolError extends TaskgridError {
  constructor(message: string) {
    super('TG_PROTOCOL', message);
  }
}
export class ProtocolVersionError extends TaskgridError {
  constructor(expected: number, got: unknown) {
    super('TG_PROTOCOL_VERSION', `Expected protocol version ${expected}, got ${String(got)}`);
  }
}
/** The worker did not answer `missed` heartbeats in a row (close 4408); its tasks go back. */
export class HeartbeatError extends TaskgridError {
  constructor(missed: number) {
    super('TG_HEARTBEAT', `missed heartbeats: ${missed} pings in a row went unanswered`);
  }
}
export class ConfigError extends TaskgridError {
  constructor(message: string) {
    super('TG_CONFIG', message);
  }
}

// Errors a task ends with. They are stored as the task's FAILED result.
export class TimeoutError extends TaskgridError {
  constructor(ms: number) {
    super('TG_TASK_TIMEOUT', `Task exceeded its timeout of ${ms} ms; its thread was terminated`);
  }
}
export class WorkerLostError extends TaskgridError {
  constructor(attempts: number) {
    super(
      'TG_WORKER_LOST',
      `The worker running this task was lost ${attempts} time(s); the retry cap was reached`,
    );
  }
}
/** A task that had not started when its `deadline_ms` passed: it never runs. */
export class DeadlineExceededError extends TaskgridError {
  constructor() {
    super('TG_DEADLINE_EXCEEDED', 'The task had not started when its deadline passed');
  }
}
/** The value of every outcome failed that way: the store keeps exactly this text. */
export const DEADLINE_EXCEEDED_VALUE = JSON.stringify(new DeadlineExceededError().toData());
/** How a dependency ended that fails the tasks that take its result as an argument. */
export type DependencyEnd = 'failed' | 'cancelled' | 'expired';
/**
 * A task one of whose arguments was another task's result (`{"$task": id}`)
 * that did not complete: it never runs. The message names the dependency.
 */
export class DependencyFailedError extends TaskgridError {
  constructor(dependency: string, how: DependencyEnd) {
    super(
      'TG_DEPENDENCY_FAILED',
      how === 'expired'
        ? `Dependency ${dependency} expired: its result is no longer kept`
        : `Dependency ${dependency} ${how === 'failed' ? 'failed' : 'was cancelled'}`,
    );
  }
}
export class ThreadExitError extends TaskgridError {
  constructor(message: string) {
    super('TG_THREAD_EXIT', message);
  }
}
export class ResultTooLargeError extends TaskgridError {
  constructor(size: number, limit: number) {
    super('TG_RESULT_TOO_LARGE', `Result is ${size} bytes of JSON; the limit is ${limit}`);
  }
}
export class BadResultError extends TaskgridError {
  constructor(message: string) {
    super('TG_BAD_RESULT', message);
  }
}
export class CancelledError extends TaskgridError {
  constructor() {
    super('TG_CANCELLED', 'Task was cancelled');
  }
}

/** Longest name, message and stack kept: error data is for people, not for bulk data. */
const MAX_NAME = 256;
const MAX_MESSAGE = 16 * 1024;
const MAX_STACK = 32 * 1024;

/** A property of a thrown value, or undefined when reading it throws (a getter, a proxy). */
function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** Text of a value, or undefined when it has none (String() throws: no toString, a proxy). */
function textOf(value: unknown, max: number): string | undefined {
  let text: string;
  try {
    text = typeof value === 'string' ? value : String(value);
  } catch {
    return undefined;
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `(eval at compile (file:///…/thread-runtime.js:48:12), <anonymous>:3:9)` → `(<anonymous>:3:9)` */
const EVAL_ORIGIN = /\(eval at .*, (<anonymous>:\d+:\d+)\)$/;
/** A frame in a file: the grid's own code or the server's modules, never task code. */
const FILE_FRAME = /^\s*at (?:.*\()?(?:file:\/\/|\/|[A-Za-z]:\\)/;

/**
 * A task's stack with the task's own frames (`<anonymous>`, the function's
 * code) and Node's (`node:fs`) kept, and every frame in a file dropped: those
 * are the grid's runtime and would show where the server is installed.
 */
export function taskStack(stack: string, hidden: readonly string[] = []): string {
  const lines = stack.split('\n');
  const kept: string[] = [];
  for (const line of lines) {
    const frame = line.replace(EVAL_ORIGIN, '($1)');
    if (FILE_FRAME.test(frame)) continue;
    kept.push(frame);
  }
  const text = hide(kept.join('\n'), hidden);
  return text.length > MAX_STACK ? `${text.slice(0, MAX_STACK)}…` : text;
}

/**
 * Turns anything thrown into error data that survives JSON. Total: it never
 * throws, whatever was thrown (a null-prototype object, a proxy that throws
 * on every trap, getters that throw, a Symbol). `hidden`: strings (the
 * install path, ending in `/`) to replace with `<taskgrid>` in the message
 * and stack.
 */
export function toErrorData(error: unknown, hidden: readonly string[] = []): ErrorData {
  try {
    if (error instanceof TaskgridError) return error.toData();
  } catch {
    // A proxy whose getPrototypeOf trap throws: described below.
  }
  try {
    if (typeof error === 'object' && error !== null) {
      // An Error of this realm or another (vm), or anything shaped like one.
      const message = read(error, 'message');
      if (typeof message === 'string') {
        const name = textOf(read(error, 'name'), MAX_NAME) ?? 'Error';
        const stack = read(error, 'stack');
        // Node's own codes (ENOENT, ERR_ACCESS_DENIED) say what failed; keep a short one.
        const code = read(error, 'code');
        return {
          name,
          message: hide(textOf(message, MAX_MESSAGE) ?? '', hidden),
          ...(typeof code === 'string' && code.length <= 64 ? { code } : {}),
          stack: typeof stack === 'string' ? taskStack(stack, hidden) : '',
        };
      }
    }
    const text = textOf(error, MAX_MESSAGE);
    return {
      name: 'Error',
      message:
        text === undefined
          ? `The task threw a value that is not an Error and has no text (${kindOf(error)})`
          : hide(text, hidden),
      stack: '',
    };
  } catch {
    return { name: 'Error', message: 'The task threw a value that cannot be described', stack: '' };
  }
}

function hide(text: string, hidden: readonly string[]): string {
  let out = text;
  for (const path of hidden) {
    if (path) out = out.split(path).join(path.endsWith('/') ? '<taskgrid>/' : '<taskgrid>');
  }
  return out;
}

function kindOf(value: unknown): string {
  if (typeof value !== 'object' || value === null) return typeof value;
  try {
    return Object.getPrototypeOf(value) === null ? 'an object with a null prototype' : 'an object';
  } catch {
    return 'a proxy';
  }
}
