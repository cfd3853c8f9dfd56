/**
 * Checks that a payload is the source of exactly one JavaScript function,
 * with acorn, without evaluating anything. The check parses the text exactly
 * as a thread will compile it, `(${source}\n)`, so what passes here is what
 * runs there, and nothing can close the parenthesis and smuggle in a second
 * statement.
 */

import { type Expression, parse } from 'acorn';
import { BadPayloadError } from '../shared/errors.js';

const DESCRIBE: Record<string, string> = {
  Identifier: 'an identifier, not a function',
  CallExpression: 'a call expression; send the function itself, not a call of it',
  ClassExpression: 'a class, not a function',
  Literal: 'a literal value, not a function',
  ObjectExpression: 'an object, not a function',
  SequenceExpression: 'several expressions; send exactly one function',
};

/** Returns the source to store (trimmed, trailing semicolons dropped). */
export function checkFunctionSource(payload: string): string {
  const source = payload.trim().replace(/;+$/, '');
  if (source === '')
    throw new BadPayloadError('`payload` is empty; send the source of one function');
  let expression: Expression;
  try {
    const program = parse(`(${source}\n)`, { ecmaVersion: 'latest', sourceType: 'script' });
    const [first, ...rest] = program.body;
    if (!first || rest.length > 0 || first.type !== 'ExpressionStatement') {
      throw new BadPayloadError('`payload` must be exactly one function, not several statements');
    }
    expression = first.expression;
  } catch (error) {
    if (error instanceof BadPayloadError) throw error;
    throw new BadPayloadError(
      `\`payload\` is not valid JavaScript function source: ${(error as Error).message}`,
    );
  }
  if (expression.type === 'FunctionExpression' || expression.type === 'ArrowFunctionExpression') {
    if (expression.generator) {
      throw new BadPayloadError(
        '`payload` is a generator function; send a plain or async function',
      );
    }
    return source;
  }
  const what = DESCRIBE[expression.type] ?? `a ${expression.type}, not a function`;
  throw new BadPayloadError(`\`payload\` is ${what}`);
}
