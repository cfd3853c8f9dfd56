/**
 * The `cursor` of GET /tasks. One store pages through its index by `seq`,
 * so its cursor is a seq (list below it). A store sharded over a cluster
 * pages through every shard's index at once: its cursor is one part per
 * shard joined by `.`, each a seq, empty (not started) or `x` (that shard's
 * listing has ended).
 */

import { BadPayloadError } from '../../shared/errors.js';

/** What any store's cursor looks like; each store then checks its own form. */
export const CURSOR_SHAPE = /^[0-9x.]{1,4096}$/;

export function badCursor(cursor: string): BadPayloadError {
  return new BadPayloadError(
    `Expected \`cursor\` to be the \`next_cursor\` of an earlier page, got \`${cursor.slice(0, 32)}\``,
  );
}

/** A one-index store's cursor: a seq, or undefined for the first page. */
export function seqCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  if (!/^\d{1,16}$/.test(cursor)) throw badCursor(cursor);
  return cursor;
}

/** Where one shard's listing stands: a seq to list below, its start, or its end. */
export type ShardCursor = string | 'start' | 'done';

export function parseShardCursors(cursor: string | undefined, shards: number): ShardCursor[] {
  if (cursor === undefined) return new Array<ShardCursor>(shards).fill('start');
  const parts = cursor.split('.');
  if (
    parts.length !== shards ||
    !parts.every((p) => p === '' || p === 'x' || /^\d{1,16}$/.test(p))
  ) {
    throw badCursor(cursor);
  }
  return parts.map((p) => (p === '' ? 'start' : p === 'x' ? 'done' : p));
}

/** The cursor of the next page; undefined when every shard's listing has ended. */
export function formatShardCursors(cursors: readonly ShardCursor[]): string | undefined {
  if (cursors.every((c) => c === 'done')) return undefined;
  return cursors.map((c) => (c === 'start' ? '' : c === 'done' ? 'x' : c)).join('.');
}
