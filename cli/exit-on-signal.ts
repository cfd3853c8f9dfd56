/** How a long-running command ends on SIGTERM or SIGINT. */

import type { Logger } from 'pino';

/** On SIGTERM or SIGINT: says `message`, runs `stop`, then exits 0 (or 1 when `stop` rejects). */
export function exitOnSignal(log: Logger, message: string, stop: () => Promise<void>): void {
  const onSignal = (signal: string) => {
    log.info({ signal }, message);
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}
