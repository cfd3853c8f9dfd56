/**
 * Fields a submit carries however it arrives (REST body or `submit` on
 * `/ws/client`): one definition, so both boundaries check the same bounds.
 */

import { type Static, Type } from '@sinclair/typebox';

export const TimeoutMsSchema = Type.Integer({
  minimum: 1,
  maximum: 86_400_000,
  description: 'Per-task timeout in ms; defaults to the server setting',
});

export const IdempotencyKeySchema = Type.String({
  minLength: 1,
  maxLength: 256,
  description:
    'A retried submit with the same key answers 200 with the task stored the first time, instead of storing another',
});

export const PRIORITY_RANGE = { min: -100, max: 100 } as const;
export const PrioritySchema = Type.Integer({
  minimum: PRIORITY_RANGE.min,
  maximum: PRIORITY_RANGE.max,
  description: 'Higher runs first; FIFO within one priority. Default 0',
});

/** 30 days. */
export const MAX_DELAY_MS = 2_592_000_000;
export const DelayMsSchema = Type.Integer({
  minimum: 0,
  maximum: MAX_DELAY_MS,
  description: 'WAITING until this many ms after the submit, then QUEUED',
});

export const DeadlineMsSchema = Type.Integer({
  minimum: 1,
  maximum: MAX_DELAY_MS,
  description:
    'A task not started this many ms after the submit ends FAILED with DeadlineExceededError and never runs',
});

export const RetryPolicySchema = Type.Object(
  {
    max_attempts: Type.Integer({ minimum: 1, maximum: 100 }),
    backoff: Type.Union([Type.Literal('fixed'), Type.Literal('exponential')]),
    delay_ms: Type.Integer({ minimum: 0, maximum: MAX_DELAY_MS }),
    max_delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_DELAY_MS })),
  },
  {
    additionalProperties: false,
    description:
      'Runs the task again when the function throws or times out, up to max_attempts runs in all, WAITING between them',
  },
);
export type RetryPolicy = Static<typeof RetryPolicySchema>;

/** Labels and tenant names: what fits in a Redis key and an event message unescaped. */
export const NAME_PATTERN = '^[A-Za-z0-9_.:=/@+-]{1,64}$';
/** Labels one task, function or worker may carry. */
export const MAX_LABELS = 32;
export const LabelsSchema = Type.Array(Type.String({ pattern: NAME_PATTERN }), {
  maxItems: MAX_LABELS,
  description:
    'Labels such as `gpu` or `region=eu`: a task runs only on a worker whose labels include all of its own',
});
