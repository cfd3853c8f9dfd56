/**
 * GET /tasks over a sharded store: each shard pages through its own index by
 * `seq`, so one page asks every shard for its next entries below its own
 * cursor, merges them newest first (by submit time), and moves each shard's
 * cursor past what the page took from it (list-cursor.ts).
 */

import { formatShardCursors, parseShardCursors, type ShardCursor } from './list-cursor.js';
import type { RedisStore } from './redis-store.js';
import type { TaskIdEntry } from './script-io.js';
import type { TaskPage, TaskQuery, TaskRecord } from './task-store.js';

export async function listAcrossShards(
  shards: readonly Pick<RedisStore, 'listTaskIds'>[],
  query: TaskQuery,
  read: (ids: string[]) => Promise<(TaskRecord | undefined)[]>,
): Promise<TaskPage> {
  const cursors = parseShardCursors(query.cursor, shards.length);
  const pages = await Promise.all(
    shards.map((s, i) => {
      const at = cursors[i] ?? 'done';
      if (at === 'done') return { entries: [], cursor: undefined };
      return s.listTaskIds({ ...query, cursor: at === 'start' ? undefined : at });
    }),
  );
  const merged: (TaskIdEntry & { shard: number })[] = [];
  pages.forEach((p, shard) => {
    for (const e of p.entries) merged.push({ ...e, shard });
  });
  merged.sort((a, b) => b.created - a.created || b.shard - a.shard || b.seq - a.seq);
  const taken = merged.slice(0, query.limit);
  const next: ShardCursor[] = cursors.map((c, shard) => {
    if (c === 'done') return 'done';
    const page = pages[shard];
    const mine = taken.filter((e) => e.shard === shard);
    const all = page?.entries.length ?? 0;
    // Every entry of its page was taken: the shard continues where its scan stopped.
    if (mine.length === all) return page?.cursor ?? 'done';
    const last = mine[mine.length - 1];
    return last ? String(last.seq) : c;
  });
  const records = await read(taken.map((e) => e.id));
  const tasks: TaskRecord[] = [];
  for (const record of records) if (record) tasks.push(record);
  const cursor = formatShardCursors(next);
  return cursor === undefined ? { tasks } : { tasks, next_cursor: cursor };
}
