/**
 * Lanes in the TaskStore contract, on every store: labels route a task only
 * to holders that have them, with no head-of-line blocking; a function's
 * concurrency limit holds across claims and frees on every way out of
 * RUNNING; tenants share by weight; and both stores answer the same.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ANY_HOLDER, claimFilter, type LaneSpec, laneId } from '../server/store/lanes.js';
import type { NewTask, TaskStore } from '../server/store/task-store.js';
import { everyStore, idPool } from './helpers/every-store.js';
import { expectSameTranscripts, normalise } from './helpers/store-transcript.js';

const WEIGHTS: Record<string, number> = { heavy: 3 };
const weightOf = (tenant: string | undefined) => (tenant ? (WEIGHTS[tenant] ?? 1) : 1);

/** The store under test places each task as the task service has it place one (by its lane). */
let placed: (lane: { id: string; limit: number } | undefined) => string = () => randomUUID();

function task(spec?: LaneSpec, id?: string): NewTask {
  const lane = spec ? { id: laneId(spec), limit: spec.limited?.limit ?? 0 } : undefined;
  return {
    id: id ?? placed(lane),
    function_id: spec?.limited?.fn ?? 'f1',
    args: '[1]',
    timeout_ms: 1000,
    created_at: Date.now(),
    ...(lane && lane.id !== '' ? { lane } : {}),
  };
}

const done = (id: string, attempt: number) => ({
  id,
  attempt,
  status: 'COMPLETED' as const,
  value: '1',
  run_ms: 1,
});

const stores = everyStore(weightOf);

const gpu: LaneSpec = { labels: ['gpu'] };
const gpuEu: LaneSpec = { labels: ['gpu', 'region=eu'] };

for (const [name, open] of stores) {
  describe(`TaskStore lanes: ${name}`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await open();
      // A limited lane's tasks go to its home shard; the others share one batch's shard, so a
      // test's tasks keep one queue's order (across shards, batches take turns).
      const pool = idPool(store);
      placed = (lane) =>
        lane && lane.limit > 0 ? (store.newTaskIds([{ lane }])[0] ?? randomUUID()) : pool();
    });
    afterEach(async () => {
      await store.close();
    });

    it('gives a labelled task only to a holder with all its labels, and never blocks others behind it', async () => {
      const labelled = task(gpuEu);
      const plain = [task(), task()];
      await store.enqueue([labelled, ...plain]);
      const anyone = await store.claim(10, 'me/plain', 60_000, ANY_HOLDER);
      expect(anyone.tasks.map((t) => t.id)).to.deep.equal(plain.map((t) => t.id));
      expect(anyone.drained).to.equal(true);
      const gpuOnly = await store.claim(10, 'me/gpu', 60_000, claimFilter(['gpu'], undefined));
      expect(gpuOnly.tasks).to.deep.equal([]);
      const both = claimFilter(['region=eu', 'gpu', 'big'], undefined);
      const taken = await store.claim(10, 'me/gpu-eu', 60_000, both);
      expect(taken.tasks.map((t) => t.id)).to.deep.equal([labelled.id]);
      expect((await store.getTask(labelled.id))?.lane).to.equal(laneId(gpuEu));
    });

    it('lets a labelled holder take unlabelled tasks too, fairly with its own lane', async () => {
      const labelled = Array.from({ length: 40 }, () => task(gpu));
      const plain = Array.from({ length: 40 }, () => task());
      await store.enqueue([...plain, ...labelled]);
      const got = await store.claim(64, 'me/gpu', 60_000, claimFilter(['gpu'], undefined));
      const ids = new Set(got.tasks.map((t) => t.id));
      expect(labelled.filter((t) => ids.has(t.id)).length).to.be.at.least(24);
      expect(plain.filter((t) => ids.has(t.id)).length).to.be.at.least(24);
    });

    it('holds a concurrency limit across claims, and frees a slot on finish, loss and cancel', async () => {
      const fn = randomUUID();
      const limited: LaneSpec = { labels: [], limited: { fn, limit: 2 } };
      const tasks = Array.from({ length: 6 }, () => task(limited));
      const other = task();
      await store.enqueue([...tasks, other]);
      const first = await store.claim(10, 'me/w', 60_000, ANY_HOLDER);
      expect(first.tasks.map((t) => t.id)).to.have.members([tasks[0]?.id, tasks[1]?.id, other.id]);
      expect(first.drained, 'nothing more may run now').to.equal(true);
      expect((await store.claim(10, 'me/w', 60_000, ANY_HOLDER)).tasks).to.deep.equal([]);
      await store.complete([done(tasks[0]?.id as string, 1)]);
      const second = await store.claim(10, 'me/w', 60_000, ANY_HOLDER);
      expect(second.tasks.map((t) => t.id)).to.deep.equal([tasks[2]?.id]);
      await store.requeue([{ id: tasks[1]?.id as string, attempt: 1 }], 5);
      const third = await store.claim(10, 'me/w', 60_000, ANY_HOLDER);
      expect(third.tasks.map((t) => t.id)).to.deep.equal([tasks[1]?.id]);
      await store.cancel(tasks[2]?.id as string);
      const fourth = await store.claim(10, 'me/w', 60_000, ANY_HOLDER);
      expect(fourth.tasks.map((t) => t.id)).to.deep.equal([tasks[3]?.id]);
      expect(await store.queueDepth()).to.equal(2);
    });

    it('shares by weight across tenants: a small late backlog is not stuck behind a large one', async () => {
      const big = Array.from({ length: 2000 }, () => task({ tenant: 'a', labels: [] }));
      await store.enqueue(big);
      // A has run a while before B comes.
      await store.claim(300, 'me/w', 60_000, ANY_HOLDER);
      const small = Array.from({ length: 100 }, () => task({ tenant: 'b', labels: [] }));
      await store.enqueue(small);
      const smallIds = new Set(small.map((t) => t.id));
      let bigRun = 0;
      let smallRun = 0;
      while (smallRun < small.length) {
        const { tasks } = await store.claim(50, 'me/w', 60_000, ANY_HOLDER);
        for (const t of tasks) {
          if (smallIds.has(t.id)) smallRun++;
          else bigRun++;
        }
      }
      // Equal weights: B's 100 take turns with A's, chunk by chunk. Sharded, each shard
      // shares fairly but B's last tasks wait in the shards that hold them, while the
      // others go on with A's: B still finishes long before A's backlog of 1,700.
      const slack = name.startsWith('Sharded') ? 2 * small.length : 64;
      expect(bigRun).to.be.at.most(small.length + slack);
    });

    it('gives a tenant of weight 3 three times the share of a tenant of weight 1', async () => {
      const light = Array.from({ length: 600 }, () => task({ tenant: 'light', labels: [] }));
      const heavy = Array.from({ length: 600 }, () => task({ tenant: 'heavy', labels: [] }));
      await store.enqueue([...light, ...heavy]);
      const heavyIds = new Set(heavy.map((t) => t.id));
      // Shares hold over successive claims (sharded: in each shard, chunk by chunk).
      const got: { id: string }[] = [];
      for (let i = 0; i < 8; i++)
        got.push(...(await store.claim(64, 'me/w', 60_000, ANY_HOLDER)).tasks);
      const share = got.filter((t) => heavyIds.has(t.id)).length / got.length;
      expect(share).to.be.within(0.68, 0.82);
    });

    it("gives a tenant's holder only that tenant's tasks", async () => {
      const a = task({ tenant: 'a', labels: [] });
      const b = task({ tenant: 'b', labels: [] });
      const none = task();
      await store.enqueue([a, b, none]);
      const got = await store.claim(10, 'me/wa', 60_000, claimFilter([], 'a'));
      expect(got.tasks.map((t) => t.id)).to.deep.equal([a.id]);
    });
  });
}

async function transcript(store: TaskStore): Promise<[string, unknown][]> {
  const since = Date.now();
  const out: [string, unknown][] = [];
  const note = async (label: string, answer: Promise<unknown>) => {
    out.push([label, normalise(await answer, since)]);
  };
  const id = (i: number) => `00000000-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`;
  const limited: LaneSpec = { labels: [], limited: { fn: 'f9', limit: 1 } };
  const tasks = [
    task(undefined, id(0)),
    task(gpu, id(1)),
    task({ tenant: 'a', labels: [] }, id(2)),
    task({ tenant: 'b', labels: ['gpu'] }, id(3)),
    task(limited, id(4)),
    task(limited, id(5)),
    task({ tenant: 'heavy', labels: [] }, id(6)),
    task(undefined, id(7)),
  ].map((t, i) => ({ ...t, created_at: 1_700_000_000_000 + i }));
  await note('enqueue', store.enqueue(tasks));
  await note('depth', store.queueDepth());
  await note('claim plain', store.claim(2, 'me/p', 60_000, ANY_HOLDER));
  await note('claim gpu', store.claim(3, 'me/g', 60_000, claimFilter(['gpu'], undefined)));
  await note('claim b', store.claim(5, 'me/b', 60_000, claimFilter(['gpu'], 'b')));
  await note('claim all', store.claim(10, 'me/p', 60_000, ANY_HOLDER));
  await note('finish limited', store.complete([done(id(4), 1)]));
  await note('claim after', store.claim(10, 'me/p', 60_000, ANY_HOLDER));
  await note('records', store.getTasks(tasks.map((t) => t.id)));
  return out;
}

describe('TaskStore lanes: both stores answer the same', () => {
  it('gives deep-equal answers and records for the same lane calls', async () => {
    await expectSameTranscripts(transcript, weightOf);
  });
});
