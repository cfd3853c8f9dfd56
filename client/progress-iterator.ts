/**
 * A task's progress as an async iterator: `for await (const p of
 * handle.progress())`. Progress is a level, not a log: an iterator read more
 * slowly than updates come yields the latest one, never a backlog. It ends
 * when the task finishes; leaving the loop early stops following the task.
 */

import type { ProgressListener, TaskProgress } from './result-stream.js';

export function progressIterator(
  follow: (listener: ProgressListener) => () => void,
): AsyncGenerator<TaskProgress, void, undefined> {
  let latest: TaskProgress | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const stop = follow({
    update: (progress) => {
      latest = progress;
      wake?.();
    },
    end: () => {
      ended = true;
      wake?.();
    },
  });
  async function* iterate(): AsyncGenerator<TaskProgress, void, undefined> {
    try {
      for (;;) {
        if (latest) {
          const next = latest;
          latest = undefined;
          yield next;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      stop();
    }
  }
  return iterate();
}
