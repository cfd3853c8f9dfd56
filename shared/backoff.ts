/**
 * Reconnect delays: exponential backoff with jitter, one formula for the
 * worker's socket and the server's Redis connections. The delay doubles
 * from `baseMs` up to `maxMs`; "equal jitter" then takes a random point in
 * its upper half, so a crowd that lost its peer at the same moment spreads
 * out on the way back, and no one retries sooner than half the step.
 */

export interface BackoffPolicy {
  /** The first retry's step. */
  baseMs: number;
  /** No step is longer than this. */
  maxMs: number;
}

/**
 * The delay before retry number `retries` (0 for the first), in ms.
 * `random` is Math.random unless a test fixes it.
 */
export function backoffDelay(
  retries: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  // 2 ** 30 overflows no double and is past any cap: larger counts change nothing.
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(retries, 0), 30));
  return Math.round(step / 2 + (random() * step) / 2);
}
