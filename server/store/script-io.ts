/**
 * What the Lua scripts take and what they answer, converted to and from the
 * domain shapes in one place (the scripts' headers in lua/ describe the same
 * layouts). Every reply is parsed from `unknown`: a reply of the wrong shape
 * is a ReplyError naming the script, the item and what came, never a cast.
 */

import { heldText } from '../../shared/binary-frame.js';
import { BadResultError } from '../../shared/errors.js';
import { isWellFormed } from '../../shared/serialize.js';
import type { TaskAssignment, TaskOutcome } from '../../shared/types.js';
import { TASK_STATUSES } from '../../shared/types.js';
import { ReplyError, ReplyReader, stringArray } from './redis-reply.js';
import { queuedTask, workerLostResult } from './store-records.js';
import { F, hashFields, taskToHash } from './task-hash.js';
import type {
  CancelResult,
  ClaimResult,
  EnqueueResult,
  LeaseReturn,
  NewTask,
  PriorityCount,
  PromoteResult,
  RequeueResult,
  RetryResult,
  TaskReference,
} from './task-store.js';

/**
 * Argument text this long (bytes) or longer is kept out of Lua: stored in
 * the task's `bulk_args` field by a plain HSET in the enqueue's MULTI, and
 * read back by a plain HGET after the claim script. Redis hashes every byte
 * of each string that enters Lua (its guard against hash flooding), once on
 * the way in (ARGV) and once on the way out (HMGET): 64 KiB arguments cost
 * Redis ~290 µs of CPU a task that way against ~45 µs with plain commands
 * (100 x 64 KiB, HSET then HGET, measured with INFO cpu). Below this the
 * extra commands cost more than the hashing saves.
 */
export const BULK_ARGS_BYTES = 8 * 1024;

/** A task's argument text that goes to its hash by a plain HSET before the enqueue script runs. */
export interface BulkArgs {
  id: string;
  text: string | Buffer;
}

/**
 * New tasks as the enqueue scripts take them: `json`, JSON text of
 * `[[id, idempotency key or '', [field, value, ...], priority, run_at or '',
 * deadline or '', lane or '', lane limit or 0], ...]`, the fields being
 * the task's first hash but its arguments (one argument instead of many per
 * task keeps the client from writing thousands of small buffers per batch),
 * and `args`, each task's argument text as it came, which the scripts store
 * without decoding (no escaping here, no cjson there), as `heldText` keeps
 * them; '' for a task in `bulk` (BULK_ARGS_BYTES), whose text the caller
 * writes beside the script. A task with references keeps its text in Lua:
 * the dependency steps splice results into it.
 */
export function newTasksArgs(tasks: readonly NewTask[]): {
  json: string;
  args: (string | Buffer)[];
  bulk: BulkArgs[];
} {
  const args: (string | Buffer)[] = [];
  const bulk: BulkArgs[] = [];
  const rows = tasks.map((t) => {
    // The record without its arguments: those go as they came, bytes or text.
    const { [F.args]: _none, ...rest } = taskToHash(queuedTask({ ...t, args: '' }));
    const text = typeof t.args === 'string' ? heldText(t.args) : t.args;
    const row = [
      t.id,
      t.idempotency_key ?? '',
      hashFields(rest),
      t.priority ?? 0,
      t.run_at ?? '',
      t.deadline_at ?? '',
      t.lane?.id ?? '',
      t.lane?.limit ?? 0,
    ];
    if (t.refs !== undefined && t.refs.length > 0) {
      row.push(
        referencesSpec(typeof t.args === 'string' ? t.args : t.args.toString('utf8'), t.refs),
      );
      args.push(text);
    } else if (byteLength(text) >= BULK_ARGS_BYTES) {
      bulk.push({ id: t.id, text });
      args.push('');
    } else {
      args.push(text);
    }
    return row;
  });
  return { json: JSON.stringify(rows), args, bulk };
}

function byteLength(text: string | Buffer): number {
  // A string shorter than a third of the bound cannot reach it in UTF-8.
  if (typeof text !== 'string') return text.length;
  return text.length * 3 < BULK_ARGS_BYTES ? text.length : Buffer.byteLength(text);
}

/**
 * Where a task's references sit in its argument text, as the dependency
 * steps take it (`dref`, lua/dependencies.ts): `<id> <start> <end> ...` in
 * UTF-8 bytes, as Lua's string.sub counts, from the UTF-16 offsets of
 * TaskReference.
 */
export function referencesSpec(text: string, refs: readonly TaskReference[]): string {
  const out: string[] = [];
  let chars = 0;
  let bytes = 0;
  for (const ref of refs) {
    bytes += Buffer.byteLength(text.slice(chars, ref.start));
    const start = bytes;
    bytes += Buffer.byteLength(text.slice(ref.start, ref.end));
    chars = ref.end;
    out.push(`${ref.id} ${start} ${bytes}`);
  }
  return out.join(' ');
}

/**
 * Reads the `{ #dups, position, id, ... }` head of the enqueue scripts'
 * reply. Undefined for `{ -1 }`: the script ran past its deadline and stored
 * nothing.
 */
export function readEnqueue(read: ReplyReader, batch: number): EnqueueResult | undefined {
  const count = read.int('duplicate count');
  if (count === -1) return undefined;
  if (count < 0 || count > batch) {
    throw new ReplyError('enqueue', `duplicate count ${count} for a batch of ${batch}`);
  }
  const duplicates = new Map<number, string>();
  for (let i = 0; i < count; i++) {
    // Lua counts from 1.
    const position = read.int('duplicate position') - 1;
    if (position < 0 || position >= batch) {
      throw new ReplyError('enqueue', `duplicate position ${position + 1} for a batch of ${batch}`);
    }
    duplicates.set(position, read.id('duplicate id'));
  }
  return { duplicates };
}

/**
 * Reads the `{ drained 0|1, id, fn, args, attempt, timeout, created, deadline or '', priority or '', ... }`
 * reply of the claim step. `args` is '' for a task whose text is in its
 * `bulk_args` field (BULK_ARGS_BYTES): the caller reads it after.
 */
export function readClaim(read: ReplyReader): ClaimResult {
  const drained = read.int('drained');
  if (drained !== 0 && drained !== 1) {
    throw new ReplyError('claim', `drained should be 0 or 1, got ${drained}`);
  }
  const top = read.text('top') === '' ? undefined : read.previousInt('top');
  const tasks: TaskAssignment[] = [];
  const created: number[] = [];
  while (read.more) {
    const task: TaskAssignment = {
      id: read.id('task id'),
      fn: read.text('function id'),
      args: read.text('args'),
      attempt: read.int('attempt'),
      timeout_ms: read.int('timeout'),
    };
    created.push(read.int('created'));
    if (read.text('deadline') !== '') task.deadline_at = read.previousInt('deadline');
    if (read.text('priority') !== '') task.priority = read.previousInt('priority');
    tasks.push(task);
  }
  return top === undefined
    ? { tasks, created, drained: drained === 1 }
    : { tasks, created, drained: drained === 1, top };
}

/**
 * Outcomes as the arguments the complete script takes: JSON text of
 * `[[id, attempt, status, run_ms, final 0|1], ...]`, then each outcome's value as its
 * own argument (stored undecoded, as the enqueue scripts store arguments).
 * Throws BadResultError for a value with a lone surrogate (it can come from a
 * text results frame): sent as is, it would be stored as U+FFFD, a result
 * the task never returned; the outcome writer fails that task instead.
 */
export function outcomesArgs(outcomes: readonly TaskOutcome[]): (string | Buffer)[] {
  for (const o of outcomes) {
    if (!isWellFormed(o.value)) {
      throw new BadResultError(
        `The result of task ${o.id} is not well-formed Unicode (a lone surrogate)`,
      );
    }
  }
  const meta = JSON.stringify(
    outcomes.map((o) => [o.id, o.attempt, o.status, String(o.run_ms), o.final ? 1 : 0]),
  );
  return [meta, ...outcomes.map((o) => heldText(o.value))];
}

/** Leases as the `id, attempt, ...` arguments the requeue and renew scripts take. */
export function leasesArgs(leases: readonly LeaseReturn[]): string[] {
  const out: string[] = [];
  for (const lease of leases) out.push(lease.id, String(lease.attempt));
  return out;
}

/** Reads `id, attempt, ...` items (the rest of a stale-leases reply): the twin of leasesArgs. */
export function readLeases(read: ReplyReader): LeaseReturn[] {
  const out: LeaseReturn[] = [];
  while (read.more) out.push({ id: read.id('task id'), attempt: read.int('attempt') });
  return out;
}

/** Reads the `{ next cursor, id, attempt, ... }` reply of the stale-leases script. */
export function readStaleLeases(raw: unknown): { cursor: number; leases: LeaseReturn[] } {
  const read = new ReplyReader(stringArray(raw, 'stale-leases'), 'stale-leases');
  const cursor = read.int('cursor');
  return { cursor, leases: readLeases(read) };
}

/** Reads the `{ finished ids..., '|', retried ids... }` reply of the complete script. */
export function readComplete(raw: unknown): { finished: string[]; retried: string[] } {
  const items = stringArray(raw, 'complete');
  const split = items.indexOf('|');
  if (split < 0) throw new ReplyError('complete', `no '|' between finished and retried ids`);
  return {
    finished: readIds(items.slice(0, split), 'complete'),
    retried: readIds(items.slice(split + 1), 'complete'),
  };
}

/** Reads the `{ next due or -1, more 0|1, promoted, failed ids... }` reply of the promote script. */
export function readPromote(raw: unknown): PromoteResult {
  const read = new ReplyReader(stringArray(raw, 'promote'), 'promote');
  const next = read.int('next due');
  const more = read.int('more');
  const promoted = read.int('promoted');
  const highest = read.int('highest');
  const failed: string[] = [];
  while (read.more) failed.push(read.id('task id'));
  return {
    nextDue: next < 0 ? undefined : next,
    more: more === 1,
    promoted,
    highest: promoted > 0 ? highest : undefined,
    failed,
  };
}

/** Reads the `{ next cursor or '', ids... }` reply of the list-tasks script. */
/** One entry of a list-tasks page: the id, its index score and when it was submitted. */
export interface TaskIdEntry {
  id: string;
  seq: number;
  created: number;
}

export function readTaskIdPage(raw: unknown): {
  entries: TaskIdEntry[];
  cursor: string | undefined;
} {
  const read = new ReplyReader(stringArray(raw, 'list-tasks'), 'list-tasks');
  const cursor = read.text('cursor');
  if (cursor !== '' && !/^\d+$/.test(cursor)) {
    throw new ReplyError('list-tasks', `cursor should be a seq, got ${cursor.slice(0, 40)}`);
  }
  const entries: TaskIdEntry[] = [];
  while (read.more) {
    entries.push({ id: read.id('task id'), seq: read.int('seq'), created: read.int('created') });
  }
  return { entries, cursor: cursor === '' ? undefined : cursor };
}

/** Reads the `{ previous status, changed 0|1 }` reply of the retry-task script; nil is an unknown id. */
export function readRetry(raw: unknown): RetryResult | undefined {
  if (raw === null || raw === undefined) return undefined;
  const read = new ReplyReader(stringArray(raw, 'retry-task'), 'retry-task');
  const previous = read.oneOf('previous status', TASK_STATUSES);
  const changed = read.int('changed');
  read.end();
  return { previous, changed: changed === 1 };
}

/** Reads the `{ -1 }` or `{ count, ids... }` reply of the delete-function script. */
export function readDeleteFunction(raw: unknown): { cancelled: string[] } | undefined {
  const read = new ReplyReader(stringArray(raw, 'delete-function'), 'delete-function');
  const count = read.int('cancelled count');
  if (count < 0) return undefined;
  const cancelled: string[] = [];
  while (read.more) cancelled.push(read.id('task id'));
  if (cancelled.length !== count) {
    throw new ReplyError('delete-function', `${cancelled.length} ids for a count of ${count}`);
  }
  return { cancelled };
}

/** Reads a reply that is a list of task ids (complete: applied; renew: no longer held). */
export function readIds(raw: unknown, what: string): string[] {
  const read = new ReplyReader(stringArray(raw, what), what);
  const ids: string[] = [];
  while (read.more) ids.push(read.id('task id'));
  return ids;
}

/** Reads the `{ requeued ids..., '|', failed ids... }` reply of the requeue script. */
export function readRequeue(raw: unknown): RequeueResult {
  const items = stringArray(raw, 'requeue');
  const split = items.indexOf('|');
  if (split < 0) throw new ReplyError('requeue', `no '|' between requeued and failed ids`);
  return {
    requeued: readIds(items.slice(0, split), 'requeue'),
    failed: readIds(items.slice(split + 1), 'requeue'),
  };
}

/** Reads the `{ previous status, owner or '', changed 0|1 }` reply of the cancel script; nil is an unknown id. */
export function readCancel(raw: unknown): CancelResult | undefined {
  if (raw === null || raw === undefined) return undefined;
  const read = new ReplyReader(stringArray(raw, 'cancel'), 'cancel');
  const previous = read.oneOf('previous status', TASK_STATUSES);
  const owner = read.text('owner');
  const changed = read.int('changed');
  read.end();
  return { previous, owner: owner === '' ? undefined : owner, changed: changed === 1 };
}

/** Stands where the loss count goes in the template; replaced by `%d` for the script. */
const LOSSES_MARK = 987_654_321;

/**
 * The retry-cap result (workerLostResult) with `%d` for the loss count, which
 * the requeue script fills in: both stores store the same text.
 */
export const WORKER_LOST_TEMPLATE = workerLostResult(LOSSES_MARK).replace(
  String(LOSSES_MARK),
  '%d',
);

/** Reads the `{ priority, count, ... }` reply of the queued-by-priority script, highest first. */
export function readQueuedByPriority(raw: unknown): PriorityCount[] {
  const read = new ReplyReader(stringArray(raw, 'queued-by-priority'), 'queued-by-priority');
  const out: PriorityCount[] = [];
  while (read.more) out.push({ priority: read.int('priority'), queued: read.int('count') });
  return out.sort((a, b) => b.priority - a.priority);
}
