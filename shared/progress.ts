/**
 * Progress from inside a task: `progress(value, note?)` in task code. The
 * limits every hop checks (thread, worker socket, server) are written once
 * here.
 */

/** A note longer than this is cut to it (in UTF-16 code units, as String#slice counts). */
export const PROGRESS_NOTE_MAX = 200;
/**
 * At most one update per task per this many ms goes on (about ten a second):
 * in the thread, and again in the server, which does not trust a worker to
 * have throttled. An update inside the window is held, the latest replacing
 * the earlier, and goes when the window ends.
 */
export const PROGRESS_INTERVAL_MS = 100;

/** One update as it travels from a worker (or the local pool) to the server. */
export interface ProgressUpdate {
  id: string;
  attempt: number;
  /** 0…1. */
  value: number;
  note?: string | undefined;
}
