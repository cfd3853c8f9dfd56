/**
 * One error taxonomy for the whole grid. Every error has a stable `code`; one
 * table maps each code to the HTTP status the REST API answers with and the
 * WebSocket close code the gateway uses. Errors cross the wire as data
 * (`ErrorData`), never as thrown objects.
 */

export interface ErrorData {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export const ERROR_TABLE = {
  TG_BAD_PAYLOAD: { http: 400, close: 4400 },
  TG_BAD_ID: { http: 400, close: 4400 },
  TG_UNAUTHORIZED: { http: 401, close: 4401 },
  TG_FORBIDDEN_ORIGIN: { http: 403, close: 4403 },
  TG_NOT_FOUND: { http: 404, close: 4404 },
  TG_CONFLICT: { http: 409, close: 4409 },
  TG_TOO_LARGE: { http: 413, close: 1009 },
  TG_UNSUPPORTED_MEDIA_TYPE: { http: 415, close: 4415 },
  TG_SCHEMA: { http: 422, close: 4400 },
  TG_TOO_MANY: { http: 429, close: 4429 },
  TG_UNAVAILABLE: { http: 503, close: 1013 },
  TG_PROTOCOL: { http: 400, close: 4400 },
  TG_PROTOCOL_VERSION: { http: 400, close: 4406 },
  TG_HEARTBEAT: { http: 500, close: 4408 },
  TG_CONFIG: { http: 500, close: 1011 },
  TG_TASK_TIMEOUT: { http: 500, close: 1011 },
  TG_WORKER_LOST: { http: 500, close: 1011 },
  TG_THREAD_EXIT: { http: 500, close: 1011 },
  TG_RESULT_TOO_LARGE: { http: 500, close: 1011 },
  TG_CANCELLED: { http: 500, close: 1011 },
  TG_BAD_RESULT: { http: 500, close: 1011 },
  TG_INTERNAL: { http: 500, close: 1011 },
} as const satisfies Record<string, { http: number; close: number }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

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
  get closeCode(): number {
    return ERROR_TABLE[this.code].close;
  }
  toData(): ErrorData {
    return { name: this.name, message: this.message, code: this.code, stack: this.stack ?? '' };
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

/** Turns anything thrown into error data that survives JSON. */
export function toErrorData(error: unknown): ErrorData {
  if (error instanceof TaskgridError) return error.toData();
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack ?? '' };
  }
  return { name: 'Error', message: String(error), stack: '' };
}
