/**
 * The SDK's submit and register options (camelCase) and their one converter
 * to the wire fields (snake_case) that POST /execute_function, POST
 * /execute_batch, POST /register_function and the client socket's `submit`
 * take. Every option is checked here, against the bounds of the server's
 * own schemas (shared/submit-fields.ts), with the OptionError message shape:
 * a socket submit that fails the server's check closes the socket, so none
 * may be sent, and the CLI renames the option to its flag in the message.
 */

import {
  choiceOption,
  intOption,
  OptionError,
  objectOption,
  textOption,
} from '../shared/options.js';
import {
  DeadlineMsSchema,
  DelayMsSchema,
  IdempotencyKeySchema,
  MAX_LABELS,
  NAME_PATTERN,
  PrioritySchema,
  type RetryPolicy,
  RetryPolicySchema,
  TimeoutMsSchema,
} from '../shared/submit-fields.js';

export const BACKOFFS = ['fixed', 'exponential'] as const;

export interface RetryOptions {
  /** Runs in all, the first included: 1…100. */
  maxAttempts: number;
  backoff: (typeof BACKOFFS)[number];
  /** Wait before the second run; `exponential` doubles it for each run after. */
  delayMs: number;
  /** Cap on the wait between runs. */
  maxDelayMs?: number;
}

/** Options of one submit (`fn.submit(args, options)`). */
export interface SubmitOptions {
  /** −100…100, higher runs first; 0 when absent. */
  priority?: number;
  /** WAITING this long after the submit, then QUEUED. */
  delayMs?: number;
  /** Not started this long after the submit: FAILED with DeadlineExceededError, never run. */
  deadlineMs?: number;
  /** Run-time limit of the task; the function's (or the server's) when absent. */
  timeoutMs?: number;
  /** Runs again when the function throws or times out; the function's policy when absent. */
  retry?: RetryOptions;
  /** Added to the function's: the task runs only on a worker with all of them. */
  labels?: string[];
  /**
   * A submit repeating a key answers the task stored under it the first time.
   * The SDK makes one up when absent, so that its own retries never store twice.
   */
  idempotencyKey?: string;
}

/** Options of a batch (`fn.map`): the same for every task of it. */
export type BatchSubmitOptions = Omit<SubmitOptions, 'idempotencyKey'>;

/** The submit options as the wire spells them. */
export interface WireSubmitOptions {
  timeout_ms?: number;
  priority?: number;
  delay_ms?: number;
  deadline_ms?: number;
  retry?: RetryPolicy;
  labels?: string[];
  idempotency_key?: string;
}

const SUBMIT_KEYS = [
  'priority',
  'delayMs',
  'deadlineMs',
  'timeoutMs',
  'retry',
  'labels',
  'idempotencyKey',
] as const;
const RETRY_KEYS = ['maxAttempts', 'backoff', 'delayMs', 'maxDelayMs'] as const;

interface Bounds {
  minimum?: number;
  maximum?: number;
}

/** An integer within a schema's bounds: the server's check, made before sending. */
function boundedInt(name: string, value: unknown, schema: Bounds): number {
  return intOption(name, value, schema.minimum ?? 0, schema.maximum ?? Number.MAX_SAFE_INTEGER);
}

function optionalInt(name: string, value: unknown, schema: Bounds): number | undefined {
  return value === undefined ? undefined : boundedInt(name, value, schema);
}

/** A retry policy, checked; `name` prefixes each field's name in an error. */
export function retryOptions(value: unknown, name = 'retry'): RetryOptions {
  const retry = objectOption(name, value, RETRY_KEYS);
  const fields = RetryPolicySchema.properties;
  const checked: RetryOptions = {
    maxAttempts: boundedInt(`${name}.maxAttempts`, retry.maxAttempts, fields.max_attempts),
    backoff: choiceOption(`${name}.backoff`, retry.backoff, BACKOFFS),
    delayMs: boundedInt(`${name}.delayMs`, retry.delayMs, fields.delay_ms),
  };
  const cap = optionalInt(`${name}.maxDelayMs`, retry.maxDelayMs, fields.max_delay_ms);
  if (cap !== undefined) checked.maxDelayMs = cap;
  return checked;
}

/** A retry policy's wire form, checked first. */
export function retryPolicy(value: unknown, name = 'retry'): RetryPolicy {
  const retry = retryOptions(value, name);
  const policy: RetryPolicy = {
    max_attempts: retry.maxAttempts,
    backoff: retry.backoff,
    delay_ms: retry.delayMs,
  };
  if (retry.maxDelayMs !== undefined) policy.max_delay_ms = retry.maxDelayMs;
  return policy;
}

const LABEL = new RegExp(NAME_PATTERN);

/** Labels (of a task or a function), checked: what the server's LabelsSchema takes. */
export function labelList(value: unknown, name = 'labels'): string[] {
  const ok =
    Array.isArray(value) &&
    value.length <= MAX_LABELS &&
    value.every((label) => typeof label === 'string' && LABEL.test(label));
  if (!ok) {
    const expected = `an array of at most ${MAX_LABELS} labels, each 1 to 64 of A-Z a-z 0-9 _ . : = / @ + -`;
    throw new OptionError(name, expected, Array.isArray(value) ? JSON.stringify(value) : value);
  }
  return [...value];
}

/** A submit's options, checked (a fresh object); throws OptionError naming the option at fault. */
export function submitOptions(value: unknown): SubmitOptions {
  if (value === undefined) return {};
  const given = objectOption('options', value, SUBMIT_KEYS);
  const checked: SubmitOptions = {};
  const timeout = optionalInt('timeoutMs', given.timeoutMs, TimeoutMsSchema);
  if (timeout !== undefined) checked.timeoutMs = timeout;
  const priority = optionalInt('priority', given.priority, PrioritySchema);
  if (priority !== undefined) checked.priority = priority;
  const delay = optionalInt('delayMs', given.delayMs, DelayMsSchema);
  if (delay !== undefined) checked.delayMs = delay;
  const deadline = optionalInt('deadlineMs', given.deadlineMs, DeadlineMsSchema);
  if (deadline !== undefined) checked.deadlineMs = deadline;
  if (given.retry !== undefined) checked.retry = retryOptions(given.retry);
  if (given.labels !== undefined) checked.labels = labelList(given.labels);
  if (given.idempotencyKey !== undefined) {
    const key = textOption('idempotencyKey', given.idempotencyKey);
    const max = IdempotencyKeySchema.maxLength ?? key.length;
    if (key.length > max) {
      throw new OptionError('idempotencyKey', `a string of at most ${max} characters`, key);
    }
    checked.idempotencyKey = key;
  }
  return checked;
}

/** The wire fields of a submit's options, checked first. */
export function submitFields(value: unknown): WireSubmitOptions {
  const options = submitOptions(value);
  const fields: WireSubmitOptions = {};
  if (options.timeoutMs !== undefined) fields.timeout_ms = options.timeoutMs;
  if (options.priority !== undefined) fields.priority = options.priority;
  if (options.delayMs !== undefined) fields.delay_ms = options.delayMs;
  if (options.deadlineMs !== undefined) fields.deadline_ms = options.deadlineMs;
  if (options.retry !== undefined) fields.retry = retryPolicy(options.retry);
  if (options.labels !== undefined) fields.labels = [...options.labels];
  if (options.idempotencyKey !== undefined) fields.idempotency_key = options.idempotencyKey;
  return fields;
}

/** Throws unless a submit's arguments are an array, so that `submit(4, 5)` (the old form) fails loudly. */
export function checkArgumentList(args: unknown): void {
  if (!Array.isArray(args)) {
    throw new OptionError('args', 'an array of arguments, e.g. fn.submit([1, 2])', args);
  }
}
