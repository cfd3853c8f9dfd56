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
  // A k-way merge, newest first by the head of each shard's page: each shard's page
  // is in its own index order (by seq), which its submit times need not follow (a
  // task retried and failed again is listed by its new seq, a server's clock may lag
  // another's), so the page takes a prefix of each shard's entries and that shard's
  // cursor moves past exactly those: every task is listed once.
  const heads = pages.map(() => 0);
  const taken: (TaskIdEntry & { shard: number })[] = [];
  while (taken.length < query.limit) {
    let best: (TaskIdEntry & { shard: number }) | undefined;
    pages.forEach((p, shard) => {
      const e = p.entries[heads[shard] ?? 0];
      if (!e) return;
      if (!best || e.created > best.created || (e.created === best.created && shard > best.shard)) {
        best = { ...e, shard };
      }
    });
    if (!best) break;
    taken.push(best);
    heads[best.shard] = (heads[best.shard] ?? 0) + 1;
  }
  const next: ShardCursor[] = cursors.map((c, shard) => {
    if (c === 'done') return 'done';
    const page = pages[shard];
    const used = heads[shard] ?? 0;
    const all = page?.entries.length ?? 0;
    // Every entry of its page was taken: the shard continues where its scan stopped.
    if (used === all) return page?.cursor ?? 'done';
    const last = page?.entries[used - 1];
    return last ? String(last.seq) : c;
  });
  const records = await read(taken.map((e) => e.id));
  const tasks: TaskRecord[] = [];
  for (const record of records) if (record) tasks.push(record);
  const cursor = formatShardCursors(next);
  return cursor === undefined ? { tasks } : { tasks, next_cursor: cursor };
}
