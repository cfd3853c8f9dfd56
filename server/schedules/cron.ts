/**
 * Cron expressions, checked once when a schedule is created and then asked
 * for the next fire time. cron-parser does the calendar work (ranges, steps,
 * names, day-of-month/day-of-week rules, DST in IANA time zones); this file
 * narrows what it accepts to what the API promises: five fields (minute hour
 * day-of-month month day-of-week), or six with a leading seconds field, no
 * `@` macros and no `H` (hashed values would differ between servers).
 */

import { CronExpressionParser } from 'cron-parser';
import { BadPayloadError } from '../../shared/errors.js';

/** Longest cron text and time-zone name taken (both are short in practice). */
export const MAX_CRON_LENGTH = 256;
export const MAX_TIMEZONE_LENGTH = 64;
/** Without a time zone, schedules run in UTC (the same on every server). */
export const DEFAULT_TIMEZONE = 'UTC';

const FIELDS = /^\S+(\s+\S+){4,5}$/;

export class Cron {
  readonly expression: string;
  readonly timezone: string;

  private constructor(expression: string, timezone: string) {
    this.expression = expression;
    this.timezone = timezone;
  }

  /** Checks `expression` and `timezone`; throws BadPayloadError naming the problem. */
  static parse(expression: string, timezone: string = DEFAULT_TIMEZONE): Cron {
    const text = expression.trim();
    if (text.length > MAX_CRON_LENGTH) {
      throw new BadPayloadError(`Expected \`cron\` of at most ${MAX_CRON_LENGTH} characters`);
    }
    if (!FIELDS.test(text)) {
      throw new BadPayloadError(
        `Expected \`cron\` to have 5 fields (minute hour day-of-month month day-of-week), or 6 with leading seconds, got \`${text.slice(0, 64)}\``,
      );
    }
    // THU is the only field name with an H in it.
    if (/h/i.test(text.replace(/thu/gi, ''))) {
      throw new BadPayloadError(
        `Expected \`cron\` without hashed (H) values, got \`${text.slice(0, 64)}\``,
      );
    }
    checkTimezone(timezone);
    const cron = new Cron(text, timezone);
    try {
      cron.#next(0);
    } catch (error) {
      throw new BadPayloadError(
        `Expected a valid \`cron\`, got \`${text.slice(0, 64)}\`: ${(error as Error).message}`,
      );
    }
    return cron;
  }

  /** The first fire time strictly after `after` (ms since epoch). */
  next(after: number): number {
    return this.#next(after);
  }

  #next(after: number): number {
    const parsed = CronExpressionParser.parse(this.expression, {
      currentDate: after,
      tz: this.timezone,
    });
    return parsed.next().getTime();
  }
}

/** An IANA zone name (Europe/Paris) or UTC; Intl knows the same zones on every server. */
function checkTimezone(timezone: string): void {
  const bad = () =>
    new BadPayloadError(
      `Expected \`timezone\` to be an IANA time zone such as Europe/Paris, got \`${timezone.slice(0, MAX_TIMEZONE_LENGTH)}\``,
    );
  if (timezone.length === 0 || timezone.length > MAX_TIMEZONE_LENGTH || !/^[A-Za-z]/.test(timezone))
    throw bad();
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw bad();
  }
}
