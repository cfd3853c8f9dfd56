/**
 * Results as arguments in the SDK: a handle from `fn.submit(...)` (or the
 * promise of one) passed as an argument becomes `{"$task": id}`, so the
 * server runs the task with that task's result in its place.
 *
 *   const a = f.submit(1);
 *   const b = g.submit(a, 2); // g(f(1), 2), run once f(1) completed
 *   await (await b).result();
 */

import type { TaskHandle } from './task-grid.js';

/** An argument: a value, or a handle (or the promise of one) whose result stands for it. */
export type Arg<T> = T | TaskHandle<T> | PromiseLike<TaskHandle<T>>;
export type Args<A extends unknown[]> = { [K in keyof A]: Arg<A[K]> };

/** Handles this SDK made: only these become references (a look-alike object stays data). */
const handles = new WeakSet<object>();

export function markHandle<R>(handle: TaskHandle<R>): TaskHandle<R> {
  handles.add(handle);
  return handle;
}

function isHandle(value: unknown): value is TaskHandle<unknown> {
  return typeof value === 'object' && value !== null && handles.has(value);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    'then' in value &&
    typeof value.then === 'function'
  );
}

/**
 * The arguments with each handle replaced by its reference; promises of
 * handles are awaited first (their ids are not known yet). Arguments with
 * neither are returned as they are.
 */
export async function resolveArgs(args: readonly unknown[]): Promise<unknown[]> {
  if (!args.some((a) => isHandle(a) || isThenable(a))) return [...args];
  return Promise.all(
    args.map(async (arg, i) => {
      const value = isThenable(arg) ? await arg : arg;
      if (isHandle(value)) return { $task: value.id };
      if (isThenable(arg)) {
        throw new TypeError(
          `Expected argument ${i} to be a value, a task handle or the promise of one, got a promise of ${typeof value}`,
        );
      }
      return value;
    }),
  );
}
