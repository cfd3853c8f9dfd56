/**
 * Checks that a payload is the source of exactly one JavaScript function,
 * with acorn, without evaluating anything. The check parses the text exactly
 * as a thread will compile it, `(${source}\n)`, so what passes here is what
 * runs there, and nothing can close the parenthesis and smuggle in a second
 * statement.
 *
 * Cost: linear in the payload. The trim is a loop (a regex such as `/;+$/`
 * backtracks quadratically on a long run of semicolons followed by anything
 * else), and acorn is a recursive-descent parser that reports a nesting too
 * deep for its stack as a syntax error ("Not enough stack space"), caught
 * below. A large payload still takes acorn ~150-250 ms per MiB, which is why
 * the server runs this off its event loop (function-checker.ts).
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

/** JavaScript's WhiteSpace and LineTerminator code points, as `String.prototype.trim` knows them. */
function isJsSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** Drops surrounding whitespace and trailing semicolons, in one linear pass from the end. */
export function trimSource(payload: string): string {
  let end = payload.length;
  while (end > 0) {
    const c = payload.charCodeAt(end - 1);
    if (c !== 0x3b && !isJsSpace(c)) break;
    end--;
  }
  return payload.slice(0, end).trimStart();
}

/** Returns the source to store (trimmed, trailing semicolons dropped). Throws BadPayloadError. */
export function checkFunctionSource(payload: string): string {
  const source = trimSource(payload);
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
