/** The claim loop: claims only when someone has room, no polling, retries after a failed claim. */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ClaimLoop, type Demand } from '../server/dispatch/claim-loop.js';
import { ANY_HOLDER } from '../server/store/lanes.js';
import { MemoryStore } from '../server/store/memory-store.js';
import type { NewTask } from '../server/store/task-store.js';
import type { TaskAssignment } from '../shared/types.js';

const task = (): NewTask => ({
  id: randomUUID(),
  function_id: 'f',
  args: '[]',
  timeout_ms: 1000,
  created_at: Date.now(),
});

async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  for (let waited = 0; !check() && waited < ms; waited += 20) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(check(), 'condition reached').to.equal(true);
}

/** A holder with room for `room` tasks that records what it was given. */
function holder(room: number): { got: TaskAssignment[]; next: () => Demand | undefined } {
  const got: TaskAssignment[] = [];
  return {
    got,
    next: () =>
      got.length >= room
        ? undefined
        : {
            max: room - got.length,
            owner: 'me/w',
            filter: ANY_HOLDER,
            deliver: (tasks) => void got.push(...tasks),
          },
  };
}

describe('ClaimLoop', () => {
  it('claims queued tasks up to the room there is, oldest first, when woken', async () => {
    const store = new MemoryStore();
    const tasks = [task(), task(), task()];
    await store.enqueue(tasks);
    const h = holder(2);
    const loop = new ClaimLoop(store, 60_000, h.next, () => {});
    loop.wake();
    await eventually(() => h.got.length === 2);
    expect(h.got.map((t) => t.id)).to.deep.equal([tasks[0]?.id, tasks[1]?.id]);
    expect(await store.queueDepth()).to.equal(1);
    loop.stop();
  });

  it('claims nothing while nobody has room', async () => {
    const store = new MemoryStore();
    await store.enqueue([task()]);
    let claims = 0;
    const real = store.claim.bind(store);
    store.claim = (max, owner, leaseMs) => {
      claims++;
      return real(max, owner, leaseMs);
    };
    const loop = new ClaimLoop(
      store,
      60_000,
      () => undefined,
      () => {},
    );
    loop.wake();
    await new Promise((r) => setTimeout(r, 50));
    expect(claims).to.equal(0);
    loop.stop();
  });

  it('leases on submit in the same store call when someone has room', async () => {
    const store = new MemoryStore();
    const enqueueAndClaim = store.enqueueAndClaim.bind(store);
    let combined = 0;
    store.enqueueAndClaim = (tasks, max, owner, leaseMs) => {
      combined++;
      return enqueueAndClaim(tasks, max, owner, leaseMs);
    };
    const h = holder(5);
    const loop = new ClaimLoop(store, 60_000, h.next, () => {});
    const submitted = task();
    await loop.submit([submitted]);
    await eventually(() => h.got.length === 1);
    expect(h.got[0]?.id).to.equal(submitted.id);
    expect(combined).to.equal(1);
    loop.stop();
  });

  it('reports a failed claim and tries again on its own (no wake needed)', async () => {
    const store = new MemoryStore();
    await store.enqueue([task()]);
    let failures = 1;
    const real = store.claim.bind(store);
    store.claim = (max, owner, leaseMs) => {
      if (failures-- > 0) return Promise.reject(new Error('store away'));
      return real(max, owner, leaseMs);
    };
    const errors: unknown[] = [];
    const h = holder(1);
    const loop = new ClaimLoop(store, 60_000, h.next, (e) => errors.push(e));
    loop.wake();
    await eventually(() => h.got.length === 1);
    expect(errors).to.have.length(1);
    loop.stop();
  });
});
