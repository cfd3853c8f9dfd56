/**
 * A store whose function reads fail for a while, as HGETALL did in the
 * audit when Redis had trouble right after a claim. Everything else goes to
 * the real store unchanged. A Proxy rather than a class implementing
 * TaskStore, so the wrapper keeps working when the interface grows.
 */

import type { TaskStore } from '../../server/store/task-store.js';
import { UnavailableError } from '../../shared/errors.js';

export interface FlakyFunctions {
  store: TaskStore;
  /** getFunction calls so far, and how many of them were refused. */
  readonly calls: { total: number; refused: number };
}

/**
 * The first `passFirst` getFunction calls work (a submit's existence check
 * reads the function once); every later call is refused until `failMs` after
 * the first refusal, then calls work again.
 */
export function flakyFunctions(
  inner: TaskStore,
  passFirst: number,
  failMs: number,
): FlakyFunctions {
  const calls = { total: 0, refused: 0 };
  let failingUntil: number | undefined;
  const getFunction: TaskStore['getFunction'] = async (id) => {
    calls.total++;
    if (calls.total > passFirst) {
      failingUntil ??= Date.now() + failMs;
      if (Date.now() < failingUntil) {
        calls.refused++;
        throw new UnavailableError('injected: reading the function failed');
      }
    }
    return inner.getFunction(id);
  };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'getFunction') return getFunction;
      // Bound to the real store: its methods use private fields.
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, calls };
}
