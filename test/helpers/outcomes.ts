/** Summaries of many task bodies, so a failure says what went wrong in one line. */

export type Body = { status: string; result?: string };

/** Counts of the bodies `right` rejects, by status (e.g. `{ FAILED: 80 }`), with one example each. */
export function wrongOnes(bodies: Body[], right: (b: Body, i: number) => boolean) {
  const counts: Record<string, number> = {};
  const examples: Record<string, string | undefined> = {};
  bodies.forEach((b, i) => {
    if (right(b, i)) return;
    counts[b.status] = (counts[b.status] ?? 0) + 1;
    examples[b.status] ??= b.result?.slice(0, 200);
  });
  return { counts, examples };
}
