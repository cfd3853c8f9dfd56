/**
 * How a sharded store spreads its keys over a Redis Cluster. Each of the S
 * shards keeps every key under one hash tag (`{…}` in the key), so all of
 * them hash to one slot and each Lua script touches a single slot. The tags
 * are chosen so the shards' slots are spread evenly over the 16384 slots,
 * and thereby over the masters, which split the slots in even ranges.
 *
 * Which shard a task lives in is written in its id: the last four hex
 * digits of a UUID v4 are random bits, and the store picks them so that
 * their value modulo S is the shard. Any server finds a task's shard from
 * its id alone, with no lookup.
 */

import { v4 as uuidv4 } from 'uuid';

const SLOTS = 16384;

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The cluster slot of a hash tag's text. */
export function slotOf(tag: string): number {
  return crc16(tag) % SLOTS;
}

/** The hash tag of shard `shard` of `shards`: the first `s<shard>-<n>` whose slot is in its range. */
export function shardTag(shard: number, shards: number): string {
  const low = Math.floor((shard * SLOTS) / shards);
  const high = Math.floor(((shard + 1) * SLOTS) / shards);
  for (let n = 0; ; n += 1) {
    const tag = `s${shard}-${n}`;
    const slot = slotOf(tag);
    if (slot >= low && slot < high) return tag;
  }
}

/** The shard a task id says it lives in. */
export function shardOfId(id: string, shards: number): number {
  const tail = Number.parseInt(id.slice(-4), 16);
  return Number.isNaN(tail) ? 0 : tail % shards;
}

/** A new UUID v4 whose last four hex digits put it in shard `shard`. */
export function idInShard(shard: number, shards: number): string {
  const id = uuidv4();
  const span = Math.floor(0x10000 / shards);
  const tail = Math.floor(Math.random() * span) * shards + shard;
  return id.slice(0, -4) + tail.toString(16).padStart(4, '0');
}

/** The shard a text (a lane, an idempotency key) always maps to. */
export function shardOfText(text: string, shards: number): number {
  return crc16(text) % shards;
}
