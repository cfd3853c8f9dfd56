/**
 * What a `--sandbox` worker takes away from task threads on top of Node's
 * permission model (which already denies file access outside the install,
 * child processes, addons, process.binding, the inspector and WASI).
 *
 * The permission model leaves a thread able to end or escape the whole
 * worker process: `process.kill(process.pid, 'SIGKILL')`, a new Worker or a
 * module.register() loader thread (which run with an untouched `process`).
 * Before any task code runs, those become non-configurable, non-writable
 * functions that throw ERR_ACCESS_DENIED (the permission model's own code).
 * Tasks reach `process` as the global, through `import('node:process')` and
 * through `process.getBuiltinModule`: all are this one object, and the
 * built-in modules' ES namespaces are synced with their patched exports.
 */

import { createRequire } from 'node:module';

/** process methods that end, signal or reach below the worker process. */
const PROCESS_METHODS = [
  'abort',
  'binding',
  'chdir',
  'dlopen',
  'exit',
  'initgroups',
  'kill',
  'reallyExit',
  'setegid',
  'seteuid',
  'setgid',
  'setgroups',
  'setuid',
  '_debugEnd',
  '_debugProcess',
  '_kill',
  '_linkedBinding',
  '_startProfilerIdleNotifier',
  '_stopProfilerIdleNotifier',
] as const;

function denied(what: string): Error {
  const error = new Error(
    `${what} is not allowed in a sandboxed task (taskgrid worker --sandbox)`,
  ) as Error & { code: string };
  error.code = 'ERR_ACCESS_DENIED';
  return error;
}

function lock(owner: object, key: string, what: string): void {
  // An object-literal method: named like the original, and not a constructor.
  const stub = {
    [key]() {
      throw denied(what);
    },
  }[key];
  Object.defineProperty(owner, key, {
    value: stub,
    writable: false,
    enumerable: false,
    configurable: false,
  });
}

/** Installs the stubs in this thread. Call before any task code runs. */
export function lockProcess(): void {
  for (const name of PROCESS_METHODS) {
    if (name in process) lock(process, name, `process.${name}()`);
  }
  const require = createRequire(import.meta.url);
  const threads = require('node:worker_threads') as Record<string, unknown>;
  class Worker {
    constructor() {
      throw denied('new Worker()');
    }
  }
  Object.defineProperty(threads, 'Worker', {
    value: Worker,
    writable: false,
    enumerable: true,
    configurable: false,
  });
  const moduleExports = require('node:module') as Record<string, unknown> & {
    syncBuiltinESMExports(): void;
  };
  if ('register' in moduleExports) lock(moduleExports, 'register', 'module.register()');
  moduleExports.syncBuiltinESMExports();
}
