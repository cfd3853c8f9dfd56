/**
 * Large arguments out of Lua (script-io.ts, BULK_ARGS_BYTES), end to end:
 * a real server (local threads, and push with a worker process that is
 * killed -9), on Redis and on the store sharded over a cluster. Texts are
 * seeded random mixes of multi-byte UTF-8 and JSON escapes around and past
 * the bound; the results and GET /task/:id args must come back exact, and
 * no task hash that holds only bulk_args may be left behind on Redis.
 */

import { expect } from 'chai';
import { createClient } from 'redis';
import type { GridServer } from '../server/grid-server.js';
import { BULK_ARGS_BYTES } from '../server/store/script-io.js';
import { deserialize } from '../shared/serialize.js';
import { Prng } from './chaos/prng.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, startServer, startWorker } from './helpers/processes.js';
import { redisFlags, testRedis, uniquePrefix } from './helpers/root-hooks.js';

const SEED = Number(process.env.TASKGRID_TEST_SEED ?? Date.now() % 100_000);
const REPLAY = `seed ${SEED} (TASKGRID_TEST_SEED=${SEED} replays it)`;

const prng = new Prng(SEED);
const random = (): number => prng.next();
const PIECES = [
  'a',
  'é',
  '😀',
  '"',
  '\\',
  '\n',
  '\u2028',
  '\t',
  '/',
  '{',
  '}',
  '$task',
  '中',
  '\u0001',
];

/** A string whose JSON text (as one argument) is about `bytes` bytes of UTF-8. */
function textOf(bytes: number, mark: string): string {
  const parts = [`${mark}:`];
  let size = 0;
  while (size < bytes - 16) {
    const p = PIECES[Math.floor(random() * PIECES.length)] as string;
    parts.push(p);
    size += Buffer.byteLength(JSON.stringify(p)) - 2;
  }
  return parts.join('');
}

const ECHO = '(s) => s';
const PAIR = '(a, b) => [a, b]';
const THROW = "(s) => { throw new Error('no ' + s.length) }";
const SLEEP_ECHO =
  'async function slowEcho(s, ms) { await new Promise((r) => setTimeout(r, ms)); return s }';

interface TaskReply {
  task_id: string;
  status: string;
  attempts: number;
  args?: string;
  result?: string;
}

async function argsOf(grid: GridClient, id: string): Promise<string | undefined> {
  const reply = await grid.call<TaskReply>('GET', `/task/${id}`);
  expect(reply.status, `GET /task/${id}`).to.equal(200);
  return reply.body.args;
}

async function resultOf(grid: GridClient, id: string): Promise<unknown> {
  const done = await grid.wait(id, 60_000);
  expect(done.status, `task ${id} ended ${JSON.stringify(done).slice(0, 300)}; ${REPLAY}`).to.equal(
    'COMPLETED',
  );
  return deserialize(done.result as string);
}

/** Task hashes under `prefix` that hold bulk_args but no status: texts nobody stored. */
async function orphans(prefix: string): Promise<string[]> {
  const client = createClient({ url: testRedis().url });
  await client.connect();
  try {
    const found: string[] = [];
    for await (const keys of client.scanIterator({ MATCH: `${prefix}task:*`, COUNT: 1000 })) {
      for (const key of Array.isArray(keys) ? keys : [keys]) {
        if ((await client.type(key)) !== 'hash') continue;
        const [bulk, status] = await client.hmGet(key, ['bulk_args', 'status']);
        if (bulk !== null && bulk !== undefined && (status === null || status === undefined)) {
          found.push(key);
        }
      }
    }
    return found;
  } finally {
    await client.quit();
  }
}

for (const kind of ['redis', 'cluster'] as const) {
  describe(`large arguments end to end, local threads: ${kind}`, function () {
    this.timeout(120_000);
    let server: GridServer;
    let grid: GridClient;
    let prefix: string;
    beforeEach(async () => {
      prefix = uniquePrefix();
      server =
        kind === 'redis'
          ? await startInProcess('redis', {
              store: { kind: 'redis', url: testRedis().url, prefix, required: true },
            })
          : await startInProcess('cluster');
      grid = new GridClient(server.url);
    });
    afterEach(async () => {
      await server.close();
    });

    it('gives back exact texts from /execute_function and /execute_batch, around the bound and up to 1 MiB', async () => {
      const echo = await grid.register(ECHO);
      const sizes = [
        BULK_ARGS_BYTES - 1,
        BULK_ARGS_BYTES,
        BULK_ARGS_BYTES + 1,
        64 * 1024,
        1024 * 1024,
      ];
      const texts = sizes.map((n, i) => textOf(n, `one${i}`));
      const ids: string[] = [];
      for (const t of texts) ids.push(await grid.submit(echo, [t]));
      const batchTexts = [10, 70_000, 9000, 8190, 300_000, 5].map((n, i) => textOf(n, `b${i}`));
      ids.push(
        ...(await grid.batch(
          echo,
          batchTexts.map((t) => [t]),
        )),
      );
      const all = [...texts, ...batchTexts];
      for (const [i, id] of ids.entries()) {
        expect(await resultOf(grid, id), `result ${i}; ${REPLAY}`).to.equal(all[i]);
        expect(await argsOf(grid, id), `args ${i}; ${REPLAY}`).to.equal(JSON.stringify([all[i]]));
      }
      if (kind === 'redis') expect(await orphans(prefix)).to.deep.equal([]);
    });

    it('keeps the text of a delayed task with a deadline, a retried one, and a cancelled one', async () => {
      const echo = await grid.register(ECHO);
      const fail = await grid.register(THROW);
      const delayedText = textOf(100_000, 'delayed');
      const delayed = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: echo,
        payload: JSON.stringify([delayedText]),
        delay_ms: 300,
        deadline_ms: 30_000,
      });
      expect(delayed.status).to.equal(201);
      const failText = textOf(50_000, 'fail');
      const failing = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: fail,
        payload: JSON.stringify([failText]),
        retry: { max_attempts: 3, backoff: 'fixed', delay_ms: 20 },
      });
      expect(failing.status).to.equal(201);
      const cancelText = textOf(40_000, 'cancel');
      const held = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: echo,
        payload: JSON.stringify([cancelText]),
        delay_ms: 60_000,
      });
      expect(held.status).to.equal(201);

      expect(await resultOf(grid, delayed.body.task_id)).to.equal(delayedText);
      expect(await argsOf(grid, delayed.body.task_id)).to.equal(JSON.stringify([delayedText]));

      const failId = failing.body.task_id;
      const failed = await grid.wait(failId);
      expect(failed.status).to.equal('FAILED');
      expect(failed.result ?? '', 'the function saw the whole text').to.include(
        `no ${failText.length}`,
      );
      const record = (await grid.call<TaskReply>('GET', `/task/${failId}`)).body;
      expect(record.attempts).to.equal(3);
      expect(record.args).to.equal(JSON.stringify([failText]));
      // Retried by hand: it runs again with the same text.
      const again = await grid.call('POST', `/task/${failId}/retry`);
      expect(again.status, JSON.stringify(again.body)).to.be.oneOf([200, 201, 202]);
      const failedAgain = await grid.wait(failId);
      expect(failedAgain.status).to.equal('FAILED');
      expect(failedAgain.result ?? '').to.include(`no ${failText.length}`);
      expect(await argsOf(grid, failId)).to.equal(JSON.stringify([failText]));

      const heldId = held.body.task_id;
      const cancelled = await grid.call('DELETE', `/task/${heldId}`);
      expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
      expect((await grid.wait(heldId)).status).to.equal('CANCELLED');
      expect(await argsOf(grid, heldId)).to.equal(JSON.stringify([cancelText]));
      if (kind === 'redis') expect(await orphans(prefix)).to.deep.equal([]);
    });

    it('runs a large task that takes another large task result ({"$task": id})', async () => {
      const echo = await grid.register(ECHO);
      const pair = await grid.register(PAIR);
      const slow = await grid.register(SLEEP_ECHO);
      const parentText = textOf(120_000, 'parent');
      const ownText = textOf(90_000, 'own');
      // The parent is still running when the child is submitted, then already done for the second.
      const parent = await grid.submit(slow, [parentText, 300]);
      const child = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: pair,
        payload: JSON.stringify([{ $task: parent }, ownText]),
      });
      expect(child.status, JSON.stringify(child.body)).to.equal(201);
      expect(await resultOf(grid, child.body.task_id)).to.deep.equal([parentText, ownText]);
      const late = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: pair,
        payload: JSON.stringify([ownText, { $task: parent }]),
      });
      expect(await resultOf(grid, late.body.task_id)).to.deep.equal([ownText, parentText]);
      // A large child of a small parent: the spliced text is large.
      const small = await grid.submit(echo, ['x']);
      const third = await grid.call<{ task_id: string }>('POST', '/execute_function', {
        function_id: pair,
        payload: JSON.stringify([{ $task: small }, ownText]),
      });
      expect(await resultOf(grid, third.body.task_id)).to.deep.equal(['x', ownText]);
      if (kind === 'redis') expect(await orphans(prefix)).to.deep.equal([]);
    });

    it('answers an idempotent repeat of a large batch with the same ids and leaves no text behind', async () => {
      const slow = await grid.register(SLEEP_ECHO);
      const texts = [20_000, 9000, 200_000, 100].map((n, i) => textOf(n, `idem${i}`));
      const keys = texts.map((_, i) => `k-${SEED}-${i}`);
      const body = {
        function_id: slow,
        payloads: texts.map((t) => JSON.stringify([t, 50])),
        idempotency_keys: keys,
      };
      const first = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', body);
      expect(first.status).to.equal(201);
      for (let r = 0; r < 3; r++) {
        const again = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', body);
        expect(again.status).to.be.oneOf([200, 201]);
        expect(again.body.task_ids).to.deep.equal(first.body.task_ids);
      }
      for (const [i, id] of first.body.task_ids.entries()) {
        expect(await resultOf(grid, id)).to.equal(texts[i]);
      }
      // Repeats after they completed.
      const late = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', body);
      expect(late.body.task_ids).to.deep.equal(first.body.task_ids);
      if (kind === 'redis') expect(await orphans(prefix)).to.deep.equal([]);
    });
  });
}

describe('large arguments end to end: results TTL', function () {
  this.timeout(60_000);

  it('removes bulk_args with the hash when the result expires', async () => {
    const prefix = uniquePrefix();
    const server = await startInProcess('redis', {
      store: { kind: 'redis', url: testRedis().url, prefix, required: true },
      resultTtlSeconds: 1,
    });
    try {
      const grid = new GridClient(server.url);
      const echo = await grid.register(ECHO);
      const text = textOf(30_000, 'ttl');
      const id = await grid.submit(echo, [text]);
      expect(await resultOf(grid, id)).to.equal(text);
      const client = createClient({ url: testRedis().url });
      await client.connect();
      try {
        const end = Date.now() + 5000;
        while ((await client.exists(`${prefix}task:${id}`)) === 1 && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(await client.exists(`${prefix}task:${id}`), 'the hash expired').to.equal(0);
      } finally {
        await client.quit();
      }
      expect(await orphans(prefix)).to.deep.equal([]);
    } finally {
      await server.close();
    }
  });
});

describe('large arguments end to end, push: a worker killed -9 mid-task', function () {
  this.timeout(120_000);
  afterEach(async () => {
    await killAll();
  });

  it('runs the task again on another worker with the same text', async () => {
    const prefix = uniquePrefix();
    const server = await startServer(['--mode', 'push', '--lease', '1500', ...redisFlags(prefix)]);
    const grid = new GridClient(server.url);
    const slow = await grid.register(SLEEP_ECHO);
    const first = await startWorker(server.wsUrl);
    const texts = [70_000, 8200, 500_000].map((n, i) => textOf(n, `kill${i}`));
    const ids = await grid.batch(
      slow,
      texts.map((t) => [t, 3000]),
    );
    // Let the worker take them, then kill it.
    await new Promise((r) => setTimeout(r, 800));
    first.child.kill('SIGKILL');
    await startWorker(server.wsUrl);
    for (const [i, id] of ids.entries()) {
      expect(await resultOf(grid, id), `task ${i}`).to.equal(texts[i]);
      expect(await argsOf(grid, id)).to.equal(JSON.stringify([texts[i], 3000]));
    }
    const attempts = await Promise.all(
      ids.map(async (id) => (await grid.call<TaskReply>('GET', `/task/${id}`)).body.attempts),
    );
    expect(Math.max(...attempts), 'a task was claimed again after the kill').to.be.at.least(2);
    expect(await orphans(prefix)).to.deep.equal([]);
  });
});
