/**
 * What the ops console reads from the TaskStore, on both stores: QUEUED
 * tasks counted per priority over every lane (only QUEUED ones: not
 * WAITING, RUNNING or finished), adding up to the queue depth; and the
 * owner a finished task keeps (who ran it, GET /task's `worker`), which a
 * retry, a requeue, a backoff or a cancel clears. Then both stores compared
 * call for call.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { claimFilter, type LaneSpec, laneId } from '../server/store/lanes.js';
import type { NewTask, TaskStore } from '../server/store/task-store.js';
import type { TaskOutcome } from '../shared/types.js';
import { everyStore, idPool } from './helpers/every-store.js';
import { expectSameTranscripts, normalise, type Transcript } from './helpers/store-transcript.js';

const gpu: LaneSpec = { labels: ['gpu'] };
const acme: LaneSpec = { tenant: 'acme', labels: [] };

/** Where test task ids come from: the store under test, once one is open. */
let nextId: () => string = randomUUID;

function task(priority: number, spec?: LaneSpec, extra: Partial<NewTask> = {}): NewTask {
  const lane = spec ? { id: laneId(spec), limit: 0 } : undefined;
  return {
    id: nextId(),
    function_id: 'f1',
    args: '[1]',
    timeout_ms: 1000,
    created_at: Date.now(),
    priority,
    ...(lane ? { lane } : {}),
    ...(spec?.tenant ? { tenant: spec.tenant } : {}),
    ...extra,
  };
}

const outcome = (id: string, status: TaskOutcome['status'], value = '1'): TaskOutcome => ({
  id,
  attempt: 1,
  status,
  value,
  run_ms: 1,
});
const FAILURE = JSON.stringify({ name: 'Error', message: 'no', stack: 'Error: no' });

const stores = everyStore();

for (const [name, open] of stores) {
  describe(`TaskStore for the console: ${name}`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await open();
      nextId = idPool(store);
    });
    afterEach(async () => {
      await store.close();
    });

    it('counts QUEUED tasks per priority over every lane, highest first, as many as the depth', async () => {
      expect(await store.queuedByPriority()).to.deep.equal([]);
      await store.enqueue([
        task(5),
        task(5),
        task(0),
        task(-2),
        task(100),
        task(-100),
        task(5, gpu),
        task(0, gpu),
        task(-2, acme),
        // WAITING, not QUEUED: not counted.
        task(7, undefined, { run_at: Date.now() + 60_000 }),
      ]);
      expect(await store.queuedByPriority()).to.deep.equal([
        { priority: 100, queued: 1 },
        { priority: 5, queued: 3 },
        { priority: 0, queued: 2 },
        { priority: -2, queued: 2 },
        { priority: -100, queued: 1 },
      ]);
      expect(await store.queueDepth()).to.equal(9);
    });

    it('drops what is claimed or cancelled and counts what comes back', async () => {
      const a = task(3);
      const b = task(3);
      await store.enqueue([a, b, task(3, gpu)]);
      const claimed = await store.claim(1, 'me/w1', 60_000);
      expect(claimed.tasks.map((t) => t.id)).to.deep.equal([a.id]);
      await store.cancel(b.id);
      expect(await store.queuedByPriority()).to.deep.equal([{ priority: 3, queued: 1 }]);
      await store.requeue([{ id: a.id, attempt: 1 }], 5);
      expect(await store.queuedByPriority()).to.deep.equal([{ priority: 3, queued: 2 }]);
      await store.claim(5, 'me/w2', 60_000, claimFilter(['gpu'], undefined));
      expect(await store.queuedByPriority()).to.deep.equal([]);
    });

    it('keeps the owner of a task its own outcome finished, and clears it when it runs again', async () => {
      const retried = { max_attempts: 2, backoff: 'fixed' as const, delay_ms: 60_000 };
      const done = task(0);
      const failed = task(0);
      const backoff = task(0, undefined, { retry: retried });
      await store.enqueue([done, failed, backoff]);
      await store.claim(3, 'me/w1', 60_000);
      await store.complete([
        outcome(done.id, 'COMPLETED'),
        outcome(failed.id, 'FAILED', FAILURE),
        outcome(backoff.id, 'FAILED', FAILURE),
      ]);
      expect((await store.getTask(done.id))?.owner).to.equal('me/w1');
      expect((await store.getTask(failed.id))?.owner).to.equal('me/w1');
      // Backing off before its next run: no one holds it.
      expect(await store.getTask(backoff.id)).to.include({ status: 'WAITING', owner: undefined });
      await store.retryTask(failed.id);
      expect(await store.getTask(failed.id)).to.include({ status: 'QUEUED', owner: undefined });
    });
  });
}

/** Ids fixed, so both stores see the same calls. */
const ID = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

async function transcript(store: TaskStore): Promise<Transcript> {
  const since = Date.now();
  const out: Transcript = [];
  const note = async (label: string, answer: Promise<unknown>) => {
    out.push([label, normalise(await answer, since)]);
  };
  const fixed = (i: number, priority: number, spec?: LaneSpec) => ({
    ...task(priority, spec),
    id: ID(i),
    created_at: 1_700_000_000_000 + i,
  });
  await note(
    'enqueue',
    store.enqueue([fixed(0, 2), fixed(1, 0), fixed(2, -1, gpu), fixed(3, 2, acme), fixed(4, 0)]),
  );
  await note('by priority', store.queuedByPriority());
  await note('claim 2', store.claim(2, 'me/w1', 60_000));
  await note('complete', store.complete([outcome(ID(0), 'COMPLETED')]));
  await note('fail', store.complete([outcome(ID(1), 'FAILED', FAILURE)]));
  await note('cancel', store.cancel(ID(4)));
  await note('by priority after', store.queuedByPriority());
  await note('records', store.getTasks([ID(0), ID(1), ID(4)]));
  await note('retry', store.retryTask(ID(1)));
  await note('by priority at the end', store.queuedByPriority());
  await note('retried record', store.getTask(ID(1)));
  return out;
}

describe('TaskStore for the console: both stores answer the same', () => {
  it('gives deep-equal counts and records for the same calls', async () => {
    await expectSameTranscripts(transcript);
  });
});
