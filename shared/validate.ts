/**
 * Compiled schema checks for every boundary (REST bodies, socket frames).
 * TypeBox gives us the JSON Schema (for OpenAPI) and the static type from
 * one definition; its compiler turns the schema into a fast check.
 */

import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * String formats the schemas use. TypeBox fails a value whose format it does
 * not know, so each must be registered before a schema using it is checked.
 */
const FORMATS: Record<string, (value: string) => boolean> = {
  uuid: (value) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value),
};
for (const [name, check] of Object.entries(FORMATS)) {
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check);
}

export type Parser<T extends TSchema> = (value: unknown) => Static<T>;

/** Returns a function that checks `value` and throws `makeError(reason)` when it does not fit. */
export function compileParser<T extends TSchema>(
  schema: T,
  makeError: (reason: string) => Error,
): Parser<T> {
  const check = TypeCompiler.Compile(schema);
  return (value: unknown): Static<T> => {
    if (check.Check(value)) return value;
    const first = check.Errors(value).First();
    const path = first?.path ? first.path.replace(/^\//, '').replaceAll('/', '.') : '(body)';
    const reason = first ? `\`${path}\`: ${first.message}` : 'does not match the schema';
    throw makeError(reason);
  };
}
