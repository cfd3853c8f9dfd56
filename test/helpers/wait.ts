/** Bounded waiting for the audit regression tests: "eventually", never "within N ms". */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `probe` until it returns a value `done` accepts, or the bound passes;
 * returns the last value either way, so the caller asserts on what it saw.
 */
export async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  boundMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() >= deadline) return value;
    await sleep(everyMs);
  }
}

/** Resolves with the promise's value, or with `fallback` once `boundMs` passed. */
export async function within<T, F>(promise: Promise<T>, boundMs: number, fallback: F) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), boundMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
