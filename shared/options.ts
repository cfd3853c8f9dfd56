/**
 * Option checks with one message shape, used by the programmatic
 * constructors (`GridServer.start`, `new TaskgridWorker`): what was
 * expected, and what came. The CLI passes flags through the same checks and
 * renames the option to the flag in the message (cli/flag-errors.ts).
 */

import { ConfigError } from './errors.js';
import { MAX_LABELS, NAME_PATTERN } from './submit-fields.js';

export function describe(value: unknown): string {
  const text = typeof value === 'string' ? value.slice(0, 64) : String(value);
  return `\`${text}\` (${typeof value})`;
}

/** A ConfigError about one option, saying which, and what it expected. */
export class OptionError extends ConfigError {
  readonly option: string;
  readonly expected: string;
  constructor(option: string, expected: string, value: unknown, message?: string) {
    super(message ?? `Expected \`${option}\` to be ${expected}, got ${describe(value)}`);
    this.option = option;
    this.expected = expected;
  }
}

/** An integer from `min` to `max`. Numbers only: text is the CLI's to parse. */
export function intOption(
  name: string,
  value: unknown,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new OptionError(name, `an integer ${range}`, value);
  }
  return value;
}

export function choiceOption<T extends string>(
  name: string,
  value: unknown,
  choices: readonly T[],
): T {
  const choice = choices.find((c) => c === value);
  if (choice !== undefined) return choice;
  throw new OptionError(name, `one of ${choices.map((c) => `\`${c}\``).join(', ')}`, value);
}

export function urlOption(name: string, value: unknown, protocols: readonly string[]): string {
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      if (protocols.includes(url.protocol)) return value;
    } catch {
      // fall through to the error below
    }
  }
  const starts = protocols.map((p) => `${p}//`).join(' or ');
  throw new OptionError(name, `a URL starting with ${starts}`, value);
}

export function textOption(name: string, value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  throw new OptionError(name, 'a non-empty string', value);
}

/** A non-empty string, or undefined for none. */
export function optionalTextOption(name: string, value: unknown): string | undefined {
  return value === undefined ? undefined : textOption(name, value);
}

export function boolOption(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  throw new OptionError(name, 'true or false', value);
}

/** A plain object (`{...}`) whose keys are all in `known`: a misspelt option is an error. */
export function objectOption(
  name: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OptionError(name, 'an object', value);
  }
  const record: Record<string, unknown> = { ...value };
  for (const key of Object.keys(record)) {
    if (known.includes(key)) continue;
    const option = name === 'options' ? key : `${name}.${key}`;
    const message = `Unknown option \`${option}\` (known: ${known.join(', ')})`;
    throw new OptionError(option, 'a known option', record[key], message);
  }
  return record;
}

/** The value given, or `fallback` when none was: only undefined means none (null is a wrong value). */
/** A list of labels (submit-fields.ts NAME_PATTERN, at most MAX_LABELS), sorted, repeats dropped. */
export function labelsOption(name: string, value: unknown): string[] {
  const expected = `a list of at most ${MAX_LABELS} labels of letters, digits and _.:=/@+- (1 to 64 characters each)`;
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_LABELS)
    throw new OptionError(name, expected, value);
  const pattern = new RegExp(NAME_PATTERN);
  const out = new Set<string>();
  for (const label of value) {
    if (typeof label !== 'string' || !pattern.test(label)) {
      throw new OptionError(name, expected, label);
    }
    out.add(label);
  }
  return [...out].sort();
}

export function orDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}
