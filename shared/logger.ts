/** One logger for every process: JSON lines (pino) on stderr, level from TASKGRID_LOG_LEVEL. */

import { type Logger, pino } from 'pino';

export function createLogger(
  name: string,
  level = process.env.TASKGRID_LOG_LEVEL ?? 'info',
): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}
