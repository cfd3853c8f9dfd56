/**
 * Fields a submit carries however it arrives (REST body or `submit` on
 * `/ws/client`): one definition, so both boundaries check the same bounds.
 */

import { Type } from '@sinclair/typebox';

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
