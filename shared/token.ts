/** Token comparison in constant time (hashing first makes the lengths equal). */

import { createHash, timingSafeEqual } from 'node:crypto';

export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}
