/**
 * The task types of the study: the original two (no-op, fibonacci(3)) and
 * those that stress what they could not: CPU (fibonacci(25)), I/O (a 10 ms
 * async sleep) and payload size (1 KiB, 64 KiB and 1 MiB string arguments
 * whose length comes back, and a 64 KiB string result). Each is one function
 * source that taskgrid registers and BullMQ's processor runs alike.
 */

export interface Workload {
  name: string;
  source: string;
  args: () => unknown[];
  expected: (args: unknown[]) => unknown;
}

const FIB = 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }';
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
const KiB = 1024;
const LENGTH = 'function echo(s) { return s.length }';

/** A string argument of `bytes` whose length the task returns. */
function echo(name: string, bytes: number): Workload {
  const text = 'x'.repeat(bytes);
  return { name, source: LENGTH, args: () => [text], expected: () => text.length };
}

export const WORKLOADS: Record<string, Workload> = {
  noop: {
    name: 'noop',
    source: 'function noop() { return null }',
    args: () => [],
    expected: () => null,
  },
  fib3: { name: 'fib3', source: FIB, args: () => [3], expected: () => fib(3) },
  fib25: { name: 'fib25', source: FIB, args: () => [25], expected: () => fib(25) },
  sleep10: {
    name: 'sleep10',
    source: 'async function sleep10() { await new Promise((r) => setTimeout(r, 10)); return 1 }',
    args: () => [],
    expected: () => 1,
  },
  echo1k: echo('echo1k', KiB),
  echo64k: echo('echo64k', 64 * KiB),
  // The largest argument list the server takes by default is 1 MiB of JSON text: `["` + text + `"]`.
  echo1m: echo('echo1m', 1024 * KiB - 4),
  result64k: {
    name: 'result64k',
    source: "function result64k(n) { return 'y'.repeat(n) }",
    args: () => [64 * KiB],
    expected: () => 'y'.repeat(64 * KiB),
  },
};

/** Bytes of one task's argument list and of its result, as JSON text (what crosses the wire). */
export function payloadBytes(workload: Workload): { args: number; result: number } {
  const args = workload.args();
  return {
    args: Buffer.byteLength(JSON.stringify(args)),
    result: Buffer.byteLength(JSON.stringify(workload.expected(args))),
  };
}

/** Compiles a workload's source the way a thread does, for the baselines' processors. */
export function compileWorkload(name: string): (...args: unknown[]) => unknown {
  const workload = WORKLOADS[name];
  if (!workload) throw new Error(`Unknown workload \`${name}\``);
  return new Function(`return (${workload.source}\n);`)() as (...args: unknown[]) => unknown;
}
