/**
 * One record per function serves both readers: a submit's existence check
 * (and default timeout) and dispatch's sources. The byte budget is covered
 * in security-functions.test.ts.
 */

import { expect } from 'chai';
import { FunctionCache } from '../server/function-cache.js';
import { MemoryStore } from '../server/store/memory-store.js';
import type { TaskStore } from '../server/store/task-store.js';

/** A memory store that counts its function reads. */
function countingStore(): { store: TaskStore; reads: () => number } {
  const inner = new MemoryStore();
  let reads = 0;
  const store = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property === 'getFunction') {
        return (id: string) => {
          reads++;
          return target.getFunction(id);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, reads: () => reads };
}

const task = (fn: string) => ({ id: `t-${fn}`, fn, args: '[]', attempt: 1, timeout_ms: 1 });

describe('FunctionCache', () => {
  it('answers a registered function from memory: existence, timeout and source', async () => {
    const { store, reads } = countingStore();
    const cache = new FunctionCache(store, 1024);
    const fn = { id: 'f', name: 'f', source: '() => 1', created_at: 0, timeout_ms: 250 };
    await store.registerFunction(fn);
    cache.add(fn);
    expect(await cache.lookup('f')).to.deep.include({
      timeoutMs: 250,
      retry: undefined,
      labels: [],
      concurrency: undefined,
    });
    expect(await cache.forTasks([task('f')])).to.deep.equal([{ id: 'f', source: '() => 1' }]);
    expect(reads()).to.equal(0);
  });

  it("keeps a submit's check, and reads the source once dispatch needs it", async () => {
    const { store, reads } = countingStore();
    const cache = new FunctionCache(store, 1024);
    await store.registerFunction({ id: 'g', name: 'g', source: '() => 2', created_at: 0 });
    expect(await cache.lookup('g')).to.deep.include({ timeoutMs: undefined });
    expect(await cache.lookup('g')).to.deep.include({ timeoutMs: undefined });
    expect(reads(), 'the second check is answered from memory').to.equal(1);
    expect(cache.bytes, 'a check holds no source').to.equal(0);
    expect(await cache.forTasks([task('g')])).to.deep.equal([{ id: 'g', source: '() => 2' }]);
    expect(reads()).to.equal(2);
    expect(cache.bytes).to.equal('() => 2'.length);
  });

  it('forgets a deleted function, and one the store no longer has', async () => {
    const { store } = countingStore();
    const cache = new FunctionCache(store, 1024);
    for (const id of ['h', 'k']) {
      const fn = { id, name: id, source: `() => "${id}"`, created_at: 0 };
      await store.registerFunction(fn);
      cache.add(fn);
    }
    await store.deleteFunction('h');
    cache.delete('h');
    expect(await cache.lookup('h')).to.equal(undefined);
    await store.deleteFunction('k');
    cache.delete('k');
    expect(await cache.forTasks([task('k')])).to.deep.equal([]);
    expect(cache.bytes).to.equal(0);
  });

  it('with no room for sources still answers checks', async () => {
    const { store, reads } = countingStore();
    const cache = new FunctionCache(store, 0);
    const fn = { id: 'z', name: 'z', source: '() => 0', created_at: 0, timeout_ms: 9 };
    await store.registerFunction(fn);
    cache.add(fn);
    expect(cache.bytes).to.equal(0);
    expect(await cache.lookup('z')).to.deep.include({ timeoutMs: 9 });
    expect(reads()).to.equal(0);
    expect(await cache.forTasks([task('z')])).to.deep.equal([{ id: 'z', source: '() => 0' }]);
    expect(reads()).to.equal(1);
  });
});
