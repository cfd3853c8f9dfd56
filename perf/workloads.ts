/**
 * The task types of the study: the original two (no-op, fibonacci(3)) and
 * three that stress what they could not: CPU (fibonacci(25)), I/O (a 10 ms
 * async sleep) and payload size (a 64 KiB echo). Each is one function source
 * that taskgrid registers and BullMQ's processor runs alike.
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
const PAYLOAD_64K = 'x'.repeat(64 * 1024);

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
  echo64k: {
    name: 'echo64k',
    source: 'function echo(s) { return s.length }',
    args: () => [PAYLOAD_64K],
    expected: () => PAYLOAD_64K.length,
  },
};

/** Compiles a workload's source the way a thread does, for the baselines' processors. */
export function compileWorkload(name: string): (...args: unknown[]) => unknown {
  const workload = WORKLOADS[name];
  if (!workload) throw new Error(`Unknown workload \`${name}\``);
  return new Function(`return (${workload.source}\n);`)() as (...args: unknown[]) => unknown;
}
