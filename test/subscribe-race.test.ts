/**
 * A result stored while a subscription's read is under way. The gateway
 * sends nothing to a subscription before its read says whose the task is;
 * when that read was answered before the result was stored (RUNNING) and
 * the finished event came before the answer was handled, the result was
 * passed over and never sent: the SDK got it only from its own re-check,
 * 5 s, or (for a task re-checked while it ran: the re-subscribe made the
 * subscription unverified again) 15 s after the submit. This is what made
 * perf/cpu-split.js fib25 6000 2 1 take 15.6 s instead of ~4.7 s on a slow
 * machine. The store here answers one read with a record taken before the
 * task finished, after the result was stored and announced: the order that
 * lost it.
 */

import { expect } from 'chai';
import { pino } from 'pino';
import { GridServer } from '../server/grid-server.js';
import { MemoryStore } from '../server/store/memory-store.js';
import type { TaskStore } from '../server/store/task-store.js';
import { isTerminal } from '../shared/types.js';
import { ClientSocket } from './helpers/client-socket.js';
import { GridClient } from './helpers/grid-client.js';
import { testConfig } from './helpers/in-process.js';
import { sleep, until, within } from './helpers/wait.js';

/**
 * A store whose next read (getTasks) of an armed task takes its records at
 * once but answers only after that task's result is stored, and the
 * finished event has been handled.
 */
function staleReads(inner: MemoryStore): { store: TaskStore; arm: (id: string) => void } {
  const armed = new Set<string>();
  const getTasks: TaskStore['getTasks'] = async (ids) => {
    const held = ids.find((id) => armed.has(id));
    const records = await inner.getTasks(ids);
    if (held === undefined) return records;
    armed.delete(held);
    await until(
      () => inner.getTask(held),
      (task) => task !== undefined && isTerminal(task.status),
      10_000,
      10,
    );
    await sleep(100);
    return records;
  };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'getTasks') return getTasks;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, arm: (id) => armed.add(id) };
}

describe('a result stored while a subscription is read', function () {
  this.timeout(30_000);
  let server: GridServer | undefined;
  let socket: ClientSocket | undefined;
  afterEach(async () => {
    socket?.ws.close();
    socket = undefined;
    await server?.close();
    server = undefined;
  });

  async function start(): Promise<{
    inner: MemoryStore;
    arm: (id: string) => void;
    grid: GridClient;
    fn: string;
  }> {
    const inner = new MemoryStore();
    const { store, arm } = staleReads(inner);
    server = await GridServer.start(testConfig('memory', { mode: 'local', threads: 1 }), {
      store,
      log: pino({ level: 'silent' }),
    });
    const grid = new GridClient(server.url);
    // Runs long enough for a subscribe to be read while it runs.
    const fn = await grid.register(
      'function spin(ms) { const end = Date.now() + ms; while (Date.now() < end); return ms }',
    );
    socket = await new ClientSocket(server.url).open();
    return { inner, arm, grid, fn };
  }

  async function running(inner: MemoryStore, id: string): Promise<void> {
    const task = await until(
      () => inner.getTask(id),
      (t) => t?.status === 'RUNNING',
      10_000,
      10,
    );
    expect(task?.status, 'the task runs').to.equal('RUNNING');
  }

  /** Subscribes the socket to running task `id` with its read held until the task ended: the result must come. */
  async function subscribeHeld(arm: (id: string) => void, id: string): Promise<void> {
    arm(id);
    socket?.send({ type: 'subscribe', ids: [id] });
    const frame = await within(
      socket?.next() ?? Promise.resolve(undefined),
      3000,
      'nothing within 3 s',
    );
    expect(frame).to.deep.equal({
      type: 'result',
      task_id: id,
      status: 'COMPLETED',
      result: '400',
    });
  }

  it('is sent to a socket that subscribed to the task while it ran', async () => {
    const { inner, arm, grid, fn } = await start();
    const id = await grid.submit(fn, [400]);
    await running(inner, id);
    await subscribeHeld(arm, id);
  });

  it('is sent to a socket that subscribed again to a task it submitted (the SDK re-check)', async () => {
    const { inner, arm, fn } = await start();
    socket?.send({ type: 'submit', ref: 'r1', function_id: fn, payload: '[400]' });
    const submitted = await socket?.next();
    expect(submitted).to.include({ type: 'submitted', ref: 'r1' });
    const id = submitted?.task_id as string;
    await running(inner, id);
    await subscribeHeld(arm, id);
  });

  it('sends another tenant’s socket nothing of a task while its read is under way, then `unknown`', async () => {
    const inner = new MemoryStore();
    const { store, arm } = staleReads(inner);
    server = await GridServer.start(
      testConfig('memory', {
        mode: 'local',
        threads: 1,
        tokens: [
          { role: 'client', token: 'alpha-token', tenant: 'alpha', weight: 1 },
          { role: 'client', token: 'beta-token', tenant: 'beta', weight: 1 },
        ],
      }),
      { store, log: pino({ level: 'silent' }) },
    );
    const alpha = new GridClient(server.url, 'alpha-token');
    // Reports progress all through its run.
    const fn = await alpha.register(
      'function slow(ms) { const end = Date.now() + ms; let next = 0; while (Date.now() < end) { if (Date.now() >= next) { progress(0.5); next = Date.now() + 20 } } return ms }',
    );
    const id = await alpha.submit(fn, [600]);
    await running(inner, id);
    socket = await new ClientSocket(server.url, 'beta-token').open();
    // Beta's read of the task is answered only once the task has finished.
    arm(id);
    socket.send({ type: 'subscribe', ids: [id] });
    const frame = await within(socket.next(), 5000, 'no answer within 5 s');
    expect(frame).to.deep.equal({ type: 'unknown', task_id: id });
  });

  it('keeps sending progress to a socket that subscribes again to its own running task', async () => {
    const { inner, arm, grid } = await start();
    const fn = await grid.register(
      'async function slow(ms) { const start = Date.now(); while (Date.now() < start + ms) { progress((Date.now() - start) / ms); await new Promise((r) => setTimeout(r, 20)) } return ms }',
    );
    socket?.send({ type: 'submit', ref: 'r1', function_id: fn, payload: '[800]' });
    const id = (await socket?.next())?.task_id as string;
    await running(inner, id);
    // The SDK's re-check: the same socket subscribes again; its read is held until the end.
    arm(id);
    socket?.send({ type: 'subscribe', ids: [id] });
    const frames: Record<string, unknown>[] = [];
    for (;;) {
      const frame = await within(socket?.next() ?? Promise.resolve(undefined), 5000, undefined);
      if (!frame) break;
      frames.push(frame);
      if (frame.type === 'result') break;
    }
    // Progress kept coming while the read was held (one update per 100 ms for 800 ms).
    expect(frames.filter((f) => f.type === 'progress').length).to.be.greaterThan(3);
    expect(frames.at(-1)).to.include({ type: 'result', status: 'COMPLETED', result: '800' });
  });
});
