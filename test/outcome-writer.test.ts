import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { OutcomeWriter } from '../server/dispatch/outcome-writer.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { UnavailableError } from '../shared/errors.js';
import type { TaskOutcome } from '../shared/types.js';

async function runningTask(store: MemoryStore): Promise<string> {
  const id = randomUUID();
  await store.enqueue([
    { id, function_id: 'f', args: '[]', timeout_ms: 1000, created_at: Date.now() },
  ]);
  await store.claim(1, 'me/w', 60_000);
  return id;
}

const done = (id: string): TaskOutcome => ({
  id,
  attempt: 1,
  status: 'COMPLETED',
  value: '1',
  run_ms: 1,
});

describe('OutcomeWriter', () => {
  it('keeps writing after an empty batch (a write that ends at once must not wedge it)', async () => {
    const store = new MemoryStore();
    const writer = new OutcomeWriter(store, 100, () => {});
    writer.add([]);
    const id = await runningTask(store);
    writer.add([done(id)]);
    await writer.flush();
    expect((await store.getTask(id))?.status).to.equal('COMPLETED');
  });

  it('holds outcomes while the store is unreachable and writes them when it returns', async () => {
    const store = new MemoryStore();
    const id = await runningTask(store);
    const real = store.complete.bind(store);
    let down = true;
    store.complete = async (outcomes) => {
      if (down) throw new UnavailableError('down');
      return real(outcomes);
    };
    const errors: unknown[] = [];
    const writer = new OutcomeWriter(store, 100, (e) => errors.push(e));
    writer.add([done(id)]);
    await writer.flush();
    expect(writer.buffered).to.equal(1);
    expect(errors).to.have.length(1);
    down = false;
    for (let i = 0; i < 50 && writer.buffered > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await store.getTask(id))?.status).to.equal('COMPLETED');
    writer.stop();
  });

  it('drops the oldest past its bound and counts them', () => {
    const store = new MemoryStore();
    store.complete = () => new Promise(() => {});
    const writer = new OutcomeWriter(store, 2, () => {});
    writer.add([done('a')]);
    writer.add([done('b'), done('c'), done('d')]);
    expect(writer.buffered).to.equal(2);
    expect(writer.dropped).to.equal(1);
  });
});
