/**
 * Every key name comes from redis-keys.ts: the Lua scripts get key heads as
 * arguments and write no key part of their own, so the layout cannot drift
 * between the scripts and the store (and stays one place to change for a
 * cluster's hash tags).
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { KEY_PARTS, RedisKeys } from '../server/store/redis-keys.js';

const LUA_DIR = fileURLToPath(new URL('../../server/store/lua', import.meta.url));

/** A quoted string that ends in a colon: the shape of a key part (`'task:'`, `"idem:"`). */
const KEY_PART_LITERAL = /(['"])[^'"\n]*:\1/g;

describe('redis keys', () => {
  it('builds every key from the prefix and the parts', () => {
    const keys = new RedisKeys('{tg}:');
    expect(keys.task('a')).to.equal(`${keys.taskHead}a`).and.to.equal('{tg}:task:a');
    expect(keys.instance('s')).to.equal(`${keys.instanceHead}s`);
    expect(keys.idempotency('k')).to.equal(`${keys.idempotencyHead}k`);
    expect(keys.schedule('s')).to.equal('{tg}:schedule:s');
    for (const key of [keys.queue, keys.leases, keys.events, keys.fn('f'), keys.schedules]) {
      expect(key.startsWith('{tg}:'), key).to.equal(true);
    }
  });

  it('leaves no key part written in a Lua script', () => {
    const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.ts'));
    expect(files.length, 'Lua sources found').to.be.greaterThan(5);
    const found: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(LUA_DIR, file), 'utf8');
      for (const part of Object.values(KEY_PARTS)) {
        if (text.includes(part)) found.push(`${file}: ${part}`);
      }
      for (const match of text.matchAll(KEY_PART_LITERAL)) found.push(`${file}: ${match[0]}`);
    }
    expect(found, 'key parts belong in redis-keys.ts, passed as ARGV').to.deep.equal([]);
  });
});
