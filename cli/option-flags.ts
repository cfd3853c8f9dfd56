/**
 * Flags that map onto API options, one table per command: each row says
 * which option a flag sets, from which environment variable it may come
 * instead, and how its text becomes the option's value. The API checks the
 * values (GridServer.start, new TaskgridWorker); the CLI only maps, and
 * renames the option to the flag in an error, through the same table.
 */

import type { Command } from 'commander';
import { ConfigError } from '../shared/errors.js';
import { describe, OptionError } from '../shared/options.js';

export interface OptionFlag {
  /** As commander takes it: `--task-timeout <ms>`. */
  flag: string;
  /** The option it sets; nested ones dotted (`limits.connections`). */
  option: string;
  env?: string;
  help: string;
  /** How many of the option's units one of the flag's is (MiB for `--function-cache-mb`). */
  unit?: number;
  /** Text, not a number (`--mode`, `--url`). */
  text?: boolean;
  /** Repeatable (`--label gpu --label region=eu`); its variable takes a comma-separated list. */
  list?: boolean;
}

export type FlagValues = Record<string, string | string[] | boolean | undefined>;

/** Commander's key for a flag: `--max-connections-per-ip <n>` → `maxConnectionsPerIp`. */
function keyOf(flag: string): string {
  const name = flag.split(' ')[0] ?? flag;
  return name.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
}

/** The raw text given for each row (flag first, then environment), empty counted as not given. */
export function givenText(rows: readonly OptionFlag[], flags: FlagValues): Map<OptionFlag, string> {
  const given = new Map<OptionFlag, string>();
  for (const row of rows) {
    const raw = flags[keyOf(row.flag)];
    // A repeated flag comes as its values; they travel as one comma-separated text, as its variable does.
    const fromFlag = Array.isArray(raw) ? (raw.length > 0 ? raw.join(',') : undefined) : raw;
    const text =
      typeof fromFlag === 'string' ? fromFlag : row.env ? process.env[row.env] : undefined;
    if (text !== undefined && text !== '') given.set(row, text);
  }
  return given;
}

/**
 * The option value for a flag's text: a number when the text is one (times
 * the row's unit), else the text itself, which the API's check then refuses
 * in its own words.
 */
export function optionValue(row: OptionFlag, text: string): unknown {
  if (row.list) return text.split(',').map((item) => item.trim());
  if (row.text) return text;
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n * (row.unit ?? 1) : text;
}

/** Sets `a.b` in `target`, making the objects on the way. */
export function setOption(target: Record<string, unknown>, path: string, value: unknown): void {
  const [head, ...rest] = path.split('.');
  if (head === undefined) return;
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  const inner = target[head];
  const next: Record<string, unknown> =
    typeof inner === 'object' && inner !== null ? { ...inner } : {};
  setOption(next, rest.join('.'), value);
  target[head] = next;
}

/** Registers each row's flag on the command, its help saying the variable and the default. */
export function addOptionFlags(
  command: Command,
  rows: readonly OptionFlag[],
  defaultText: (row: OptionFlag) => string | undefined,
): Command {
  for (const row of rows) {
    const env = row.env ? ` (env ${row.env})` : '';
    const fallback = defaultText(row);
    const help = `${row.help}${env}${fallback === undefined ? '' : `; default ${fallback}`}`;
    if (row.list) {
      command.option(row.flag, help, (value: string, all: string[]) => [...all, value], []);
    } else {
      command.option(row.flag, help);
    }
  }
  return command;
}

/**
 * Runs `build` (which calls the API's check) and rewrites an OptionError
 * about an option a row sets so that it names the flag and the text given.
 */
export function inFlagTerms<T>(
  rows: readonly OptionFlag[],
  given: ReadonlyMap<OptionFlag, string>,
  build: () => T,
): T {
  try {
    return build();
  } catch (error) {
    throw inTermsOfFlags(rows, given, error);
  }
}

/** inFlagTerms for a check that runs inside an async API call. */
export async function inFlagTermsAsync<T>(
  rows: readonly OptionFlag[],
  given: ReadonlyMap<OptionFlag, string>,
  build: () => Promise<T>,
): Promise<T> {
  try {
    return await build();
  } catch (error) {
    throw inTermsOfFlags(rows, given, error);
  }
}

/** An OptionError about an option a row sets, renamed to the flag; any other error as it is. */
function inTermsOfFlags(
  rows: readonly OptionFlag[],
  given: ReadonlyMap<OptionFlag, string>,
  error: unknown,
): unknown {
  if (!(error instanceof OptionError)) return error;
  const row = rows.find((r) => r.option === error.option);
  if (!row) return error;
  const name = row.flag.split(' ')[0] ?? row.flag;
  const text = given.get(row);
  const got = text === undefined ? '' : `, got ${describe(text)}`;
  return new ConfigError(`Expected \`${name}\` to be ${error.expected}${got}`);
}

/** The options a command's rows set, from the flags given (nested ones as objects). */
export function flagOptions(given: ReadonlyMap<OptionFlag, string>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [row, text] of given) setOption(options, row.option, optionValue(row, text));
  return options;
}
