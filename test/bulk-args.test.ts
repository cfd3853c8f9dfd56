/**
 * Large arguments stay out of Lua (script-io.ts, BULK_ARGS_BYTES): they go
 * to a task's `bulk_args` field by a plain HSET in the enqueue's MULTI and
 * come back by a plain HGET after the claim. What could break: the text
 * coming back different or in the wrong task, a task not stored (an
 * idempotency repeat, a script run past its deadline, a script Redis does
 * not know) leaving its bulk hash behind, a stored one keeping the orphan
 * expiry.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createClient } from 'redis';
import { HeldBulkArgs } from '../server/store/held-bulk-args.js';
import { RedisKeys } from '../server/store/redis-keys.js';
import { RedisStore } from '../server/store/redis-store.js';
import { BULK_ARGS_BYTES } from '../server/store/script-io.js';
import type { NewTask, TaskStore } from '../server/store/task-store.js';
import { UnavailableError } from '../shared/errors.js';
import { everyStore, idPool } from './helpers/every-store.js';
import { RedisAdmin } from './helpers/redis-admin.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';

/** JSON text of `[text]` with `text` of `chars` characters; `mark` makes each one different. */
function argsOf(chars: number, mark: string): string {
  return JSON.stringify([`${mark}:${'é'.repeat(Math.max(0, chars - mark.length - 1))}`]);
}

function task(id: string, args: string | Buffer, key?: string): NewTask {
  return {
    id,
    function_id: 'f1',
    args,
    timeout_ms: 1000,
    created_at: Date.now(),
    ...(key === undefined ? {} : { idempotency_key: key }),
  };
}

for (const [name, open] of everyStore()) {
  describe(`large arguments round-trip: ${name}`, () => {
    let store: TaskStore;
    let nextId: () => string;
    beforeEach(async () => {
      store = await open();
      nextId = idPool(store);
    });
    afterEach(async () => {
      await store.close();
    });

    it('gives each task its own text back, as text or as bytes, in order among small ones', async () => {
      // Around the bound in bytes ('é' is two), as strings and as Buffers, between small ones.
      const texts = [
        '[1]',
        argsOf(BULK_ARGS_BYTES / 2 - 8, 'just-below'),
        argsOf(BULK_ARGS_BYTES / 2, 'at'),
        argsOf(64 * 1024, 'large'),
        '[2]',
        argsOf(300 * 1024, 'larger'),
      ];
      const tasks = texts.map((t, i) => task(nextId(), i % 2 === 0 ? t : Buffer.from(t)));
      await store.enqueue(tasks);
      for (const [i, t] of tasks.entries()) {
        expect((await store.getTask(t.id))?.args, `task ${i} read back`).to.equal(texts[i]);
      }
      const claimed = await store.claim(10, 'me/w1', 10_000);
      expect(claimed.tasks.map((t) => t.id)).to.deep.equal(tasks.map((t) => t.id));
      expect(claimed.tasks.map((t) => t.args)).to.deep.equal(texts);
      expect(claimed.created).to.have.length(texts.length);
    });

    it('gives them back from an enqueue that claims in the same call', async () => {
      const texts = [argsOf(64 * 1024, 'a'), '[3]', argsOf(20 * 1024, 'b')];
      const tasks = texts.map((t) => task(nextId(), t));
      const result = await store.enqueueAndClaim(tasks, 10, 'me/w1', 10_000);
      expect(result.tasks.map((t) => t.args)).to.deep.equal(texts);
    });
  });
}

describe('large arguments never pass through Lua (Redis store)', () => {
  let admin: RedisAdmin;
  let prefix: string;
  let store: RedisStore;
  before(async () => {
    admin = await RedisAdmin.connect(testRedis().url);
  });
  after(async () => {
    await admin.close();
  });
  beforeEach(async () => {
    prefix = uniquePrefix();
    store = new RedisStore({ url: testRedis().url, prefix, instanceId: randomUUID() });
    await store.connect();
  });
  afterEach(async () => {
    await store.close();
    await admin.dropPrefix(prefix);
  });

  async function ttlOf(id: string): Promise<number> {
    const client = createClient({ url: testRedis().url });
    await client.connect();
    try {
      return await client.ttl(new RedisKeys(prefix).task(id));
    } finally {
      await client.close();
    }
  }

  it('stores a large text in bulk_args, none in args, and keeps the hash (no expiry)', async () => {
    const large = task(randomUUID(), argsOf(64 * 1024, 'x'));
    const small = task(randomUUID(), '[1]');
    await store.enqueue([large, small]);
    const stored = await admin.task(prefix, large.id);
    expect(stored).to.not.have.property('args');
    expect(stored.bulk_args).to.equal(large.args);
    expect(await ttlOf(large.id)).to.equal(-1);
    expect(await admin.task(prefix, small.id)).to.include({ args: '[1]' });
    expect(await admin.task(prefix, small.id)).to.not.have.property('bulk_args');
  });

  it('leaves no hash behind for a repeated idempotency key', async () => {
    const first = task(randomUUID(), argsOf(64 * 1024, 'first'), 'key-1');
    await store.enqueue([first]);
    const repeat = task(randomUUID(), argsOf(64 * 1024, 'repeat'), 'key-1');
    const { duplicates } = await store.enqueue([repeat]);
    expect(duplicates.get(0)).to.equal(first.id);
    expect((await admin.taskIds(prefix)).sort()).to.deep.equal([first.id]);
  });

  it('leaves no hash behind, and holds no text, when the script runs past its deadline (Redis paused)', async () => {
    const held = new HeldBulkArgs();
    const quick = new RedisStore({
      url: testRedis().url,
      prefix,
      instanceId: randomUUID(),
      commandTimeoutMs: 400,
      heldArgs: held,
    });
    await quick.connect();
    try {
      const tasks = [task(randomUUID(), argsOf(64 * 1024, 'late')), task(randomUUID(), '[1]')];
      // Writes wait 1.2 s: the server gives up at 0.4 s, the script then finds its deadline passed.
      await admin.pause(1200, 'WRITE');
      const error = await quick.enqueue(tasks).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(UnavailableError);
      expect(held.size).to.equal(0);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await admin.taskIds(prefix)).to.deep.equal([]);
    } finally {
      await quick.close();
    }
  });

  it('stores them when Redis has forgotten the script (SCRIPT FLUSH), once', async () => {
    const client = createClient({ url: testRedis().url });
    await client.connect();
    try {
      await client.scriptFlush();
    } finally {
      await client.close();
    }
    const tasks = [task(randomUUID(), argsOf(64 * 1024, 'flushed')), task(randomUUID(), '[1]')];
    await store.enqueue(tasks);
    expect((await admin.taskIds(prefix)).sort()).to.deep.equal(tasks.map((t) => t.id).sort());
    expect(await ttlOf(tasks[0]?.id ?? '')).to.equal(-1);
    const claimed = await store.claim(10, 'me/w1', 10_000);
    expect(claimed.tasks.map((t) => t.args)).to.deep.equal(tasks.map((t) => t.args));
  });

  /** A second server's store on the same keys: it holds none of the texts the first stored. */
  async function otherServer(): Promise<RedisStore> {
    const other = new RedisStore({ url: testRedis().url, prefix, instanceId: randomUUID() });
    await other.connect();
    return other;
  }

  async function dropBulkText(id: string): Promise<void> {
    const client = createClient({ url: testRedis().url });
    await client.connect();
    try {
      await client.hDel(new RedisKeys(prefix).task(id), 'bulk_args');
    } finally {
      await client.close();
    }
  }

  it('leaves out a claimed task whose text is gone when it is read', async () => {
    const gone = task(randomUUID(), argsOf(64 * 1024, 'gone'));
    const kept = task(randomUUID(), argsOf(64 * 1024, 'kept'));
    await store.enqueue([gone, kept]);
    // As when the hash is deleted between the claim script and the HGET after it (a window
    // too short to hit): the script finds the task queued, the read finds no text. Claimed
    // by another server, which holds no text of its own.
    await dropBulkText(gone.id);
    const other = await otherServer();
    try {
      const claimed = await other.claim(10, 'them/w1', 10_000);
      expect(claimed.tasks.map((t) => t.id)).to.deep.equal([kept.id]);
      expect(claimed.tasks[0]?.args).to.equal(kept.args);
      expect(claimed.created).to.have.length(1);
    } finally {
      await other.close();
    }
  });

  it('hands on the text it stored without reading it back, once; another server reads it', async () => {
    const mine = task(randomUUID(), argsOf(64 * 1024, 'mine'));
    const theirs = task(randomUUID(), argsOf(64 * 1024, 'theirs'));
    await store.enqueue([mine]);
    await store.enqueue([theirs]);
    // The stored text is gone from Redis: only what this server holds can give it back.
    await dropBulkText(mine.id);
    const first = await store.claim(1, 'me/w1', 10_000);
    expect(first.tasks.map((t) => t.args)).to.deep.equal([mine.args]);
    const other = await otherServer();
    try {
      const claimed = await other.claim(1, 'them/w1', 10_000);
      expect(claimed.tasks.map((t) => t.args)).to.deep.equal([theirs.args]);
    } finally {
      await other.close();
    }
    // Claimed again (its lease given back): taken once, so read from Redis, where it is gone.
    await store.release([{ id: mine.id, attempt: 1 }]);
    const again = await store.claim(1, 'me/w1', 10_000);
    expect(again.tasks).to.deep.equal([]);
  });
});

describe('held bulk texts: the memory bound', () => {
  it('counts a buffer once however many of its views are held, and frees it with the last', () => {
    const held = new HeldBulkArgs(1000);
    const frame = Buffer.alloc(600);
    held.add('a', frame.subarray(0, 100));
    held.add('b', frame.subarray(100, 300));
    expect(held.bytes).to.equal(frame.buffer.byteLength);
    expect(held.take('a')).to.equal(frame.subarray(0, 100).toString());
    expect(held.take('a')).to.equal(undefined);
    expect(held.bytes).to.equal(frame.buffer.byteLength);
    held.drop('b');
    expect(held.bytes).to.equal(0);
  });

  it('pushes out the oldest past the bound, and never holds a text larger than the bound', () => {
    const held = new HeldBulkArgs(1000);
    held.add('old', 'x'.repeat(200)); // 400 bytes as UTF-16
    held.add('mid', 'y'.repeat(200));
    held.add('new', 'z'.repeat(200));
    expect(held.size).to.equal(2);
    expect(held.take('old')).to.equal(undefined);
    expect(held.take('new')).to.equal('z'.repeat(200));
    held.add('huge', Buffer.alloc(2000));
    expect(held.take('huge')).to.equal(undefined);
    expect(held.bytes).to.equal(400);
  });
});
