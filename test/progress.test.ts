/**
 * Progress from inside a task, end to end, on both stores, in local mode and
 * in push and pull modes with a real worker process: `progress(value, note?)` in task
 * code reaches the task's record while it runs and its `/ws/client`
 * subscribers (on this server and on another one on the same Redis) and the
 * SDK's handle; the server writes at most about ten updates a second per task
 * whatever a worker sends, the latest winning; and a worker cannot report
 * for a task it does not hold.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import WebSocket from 'ws';
import { TaskGrid } from '../client/task-grid.js';
import { GridServer } from '../server/grid-server.js';
import { MemoryStore } from '../server/store/memory-store.js';
import { RedisStore } from '../server/store/redis-store.js';
import type { Progress, TaskStore } from '../server/store/task-store.js';
import { type ClientServerMessage, encode, parseClientServerMessage } from '../shared/protocol.js';
import { deserialize } from '../shared/serialize.js';
import { GridClient } from './helpers/grid-client.js';
import { type StoreKind, testConfig } from './helpers/in-process.js';
import { killAll, startWorker } from './helpers/processes.js';
import { RogueWorker } from './helpers/rogue-worker.js';
import { testRedis, uniquePrefix } from './helpers/root-hooks.js';
import { sleep, until } from './helpers/wait.js';

interface Write {
  id: string;
  attempt: number;
  progress: Progress;
  stored: boolean;
  /** When the write was asked for (ms since epoch). */
  at: number;
}

/** The store, with every setProgress call logged (a Proxy, as flaky-store.ts). */
function logWrites(inner: TaskStore): { store: TaskStore; writes: Write[] } {
  const writes: Write[] = [];
  const setProgress: TaskStore['setProgress'] = async (id, attempt, progress) => {
    const at = Date.now();
    const stored = await inner.setProgress(id, attempt, progress);
    writes.push({ id, attempt, progress, stored, at });
    return stored;
  };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'setProgress') return setProgress;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, writes };
}

async function openStore(kind: StoreKind, prefix = uniquePrefix()): Promise<TaskStore> {
  if (kind === 'memory') return new MemoryStore();
  const store = new RedisStore({ url: testRedis().url, prefix, instanceId: randomUUID() });
  await store.connect();
  return store;
}

/** A `/ws/client` socket that keeps every message it is sent. */
class ClientSocket {
  readonly messages: ClientServerMessage[] = [];
  readonly #ws: WebSocket;
  #ref = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => this.messages.push(parseClientServerMessage(data.toString())));
  }

  static open(httpUrl: string): Promise<ClientSocket> {
    const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/ws/client`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new ClientSocket(ws)));
      ws.once('error', reject);
    });
  }

  /** Submits on the socket (which subscribes it to the task); resolves with the task id. */
  async submit(functionId: string, args: unknown[]): Promise<string> {
    const ref = String(++this.#ref);
    this.#ws.send(
      encode({ type: 'submit', ref, function_id: functionId, payload: JSON.stringify(args) }),
    );
    const answer = await this.next(
      (m) => (m.type === 'submitted' || m.type === 'refused') && m.ref === ref,
    );
    if (answer.type !== 'submitted') throw new Error(`submit refused: ${JSON.stringify(answer)}`);
    return answer.task_id;
  }

  subscribe(ids: string[]): void {
    this.#ws.send(encode({ type: 'subscribe', ids }));
  }

  /** The first message that matches, waiting for it (bounded). */
  async next(
    match: (m: ClientServerMessage) => boolean,
    boundMs = 15_000,
  ): Promise<ClientServerMessage> {
    const found = await until(
      async () => this.messages.find(match),
      (m) => m !== undefined,
      boundMs,
      10,
    );
    if (!found) throw new Error(`no such message; got ${JSON.stringify(this.messages)}`);
    return found;
  }

  of(id: string): ClientServerMessage[] {
    return this.messages.filter(
      (m) => m.type !== 'submitted' && 'task_id' in m && m.task_id === id,
    );
  }

  close(): void {
    this.#ws.close();
  }
}

const isResult = (id: string) => (m: ClientServerMessage) =>
  m.type === 'result' && m.task_id === id;
const isProgress = (id: string) => (m: ClientServerMessage) =>
  m.type === 'progress' && m.task_id === id;

const HALF_THEN_SLEEP = `async function half() {
  progress(0.5, 'half');
  await new Promise((r) => setTimeout(r, 1500));
  return 'done';
}`;

for (const kind of ['memory', 'redis'] as const) {
  for (const mode of ['local', 'push', 'pull'] as const) {
    describe(`progress from inside a task: ${kind} store, ${mode} mode`, function () {
      this.timeout(60_000);
      let server: GridServer;
      let writes: Write[];
      let inner: TaskStore;
      let grid: GridClient;
      let socket: ClientSocket;

      beforeEach(async () => {
        inner = await openStore(kind);
        const logged = logWrites(inner);
        writes = logged.writes;
        server = await GridServer.start(testConfig(kind, { mode }), {
          store: logged.store,
          log: pino({ level: 'silent' }),
        });
        if (mode !== 'local') {
          await startWorker(`${server.url.replace(/^http/, 'ws')}/ws`, ['--threads', '2']);
        }
        grid = new GridClient(server.url);
        socket = await ClientSocket.open(server.url);
      });
      afterEach(async () => {
        socket.close();
        await server.close();
        await killAll();
      });

      it("shows progress(0.5, 'half') on the record and GET /task while RUNNING, and pushes it to the task's subscriber", async () => {
        const fn = await grid.register(HALF_THEN_SLEEP);
        const before = Date.now();
        const id = await socket.submit(fn, []);
        const pushed = await socket.next(isProgress(id));
        expect(pushed).to.deep.equal({ type: 'progress', task_id: id, value: 0.5, note: 'half' });
        const record = await server.store.getTask(id);
        expect(record?.status).to.equal('RUNNING');
        expect(record?.progress).to.include({ value: 0.5, note: 'half' });
        expect(record?.progress?.at).to.be.within(before, Date.now());
        const rest = await grid.call<{ status: string; progress?: Progress }>('GET', `/task/${id}`);
        expect(rest.status).to.equal(200);
        expect(rest.body.status).to.equal('RUNNING');
        expect(rest.body.progress).to.deep.equal(record?.progress);
        const result = await socket.next(isResult(id));
        expect(result).to.include({ status: 'COMPLETED', result: '"done"' });
        // Subscribed once: one progress message, then the result, nothing else.
        expect(socket.of(id).map((m) => m.type)).to.deep.equal(['progress', 'result']);
        expect((await server.store.getTask(id))?.progress).to.include({ value: 0.5, note: 'half' });
      });

      it('works in sync, async and arrow functions', async () => {
        // The sync one keeps running a while, so its progress is stored before its result.
        const sources = {
          sync: `function s(n) { progress(0.25, 'sync'); const end = Date.now() + 400; while (Date.now() < end) {} return n }`,
          async: `async function a(n) { await null; progress(0.5, 'async'); await new Promise((r) => setTimeout(r, 400)); return n }`,
          arrow: `(n) => { progress(0.75); const end = Date.now() + 400; while (Date.now() < end) {} return n }`,
        };
        const ids: Record<string, string> = {};
        for (const [name, source] of Object.entries(sources)) {
          ids[name] = await socket.submit(await grid.register(source, name), [name]);
        }
        for (const [name, id] of Object.entries(ids)) {
          const result = await socket.next(isResult(id));
          expect(result, name).to.include({ status: 'COMPLETED', result: JSON.stringify(name) });
        }
        const progressOf = (name: string) =>
          socket.of(ids[name] as string).filter((m) => m.type === 'progress');
        expect(progressOf('sync')).to.deep.equal([
          { type: 'progress', task_id: ids.sync, value: 0.25, note: 'sync' },
        ]);
        expect(progressOf('async')).to.deep.equal([
          { type: 'progress', task_id: ids.async, value: 0.5, note: 'async' },
        ]);
        expect(progressOf('arrow')).to.deep.equal([
          { type: 'progress', task_id: ids.arrow, value: 0.75 },
        ]);
      });

      it('turns 10,000 calls into at most about ten store writes a second, the last value winning', async () => {
        const fn = await grid.register(`async function busy() {
          for (let i = 1; i <= 10000; i++) {
            progress(i / 10000, 'step ' + i);
            if (i % 250 === 0) await new Promise((r) => setTimeout(r, 10));
          }
          await new Promise((r) => setTimeout(r, 700));
          return 'ok';
        }`);
        const id = await socket.submit(fn, []);
        await socket.next(isResult(id));
        const mine = writes.filter((w) => w.id === id && w.stored);
        expect(mine.length).to.be.at.least(2);
        const spanMs = (mine.at(-1)?.at ?? 0) - (mine[0]?.at ?? 0);
        // One write per 100 ms window, plus the first (a dozen a second at most, with slack for timers).
        expect(mine.length, `${mine.length} writes in ${spanMs} ms`).to.be.at.most(
          Math.floor(spanMs / 90) + 2,
        );
        expect(mine.at(-1)?.progress).to.include({ value: 1, note: 'step 10000' });
        expect((await server.store.getTask(id))?.progress).to.include({
          value: 1,
          note: 'step 10000',
        });
        const pushed = socket.of(id).filter((m) => m.type === 'progress');
        expect(pushed.length).to.equal(mine.length);
        expect(pushed.at(-1)).to.include({ value: 1, note: 'step 10000' });
      });

      it("gives the SDK handle's listeners and async iterator each update, and ends them with the task", async () => {
        const client = new TaskGrid({ url: server.url });
        try {
          const steps = await client.registerSource<[number], number>(`async function steps(n) {
            const sleep = () => new Promise((r) => setTimeout(r, 150));
            await sleep();
            for (let i = 1; i <= n; i++) { progress(i / n, 'step ' + i); await sleep(); }
            return n;
          }`);
          const handle = await steps.submit([3]);
          const heard: unknown[] = [];
          handle.on('progress', (p) => heard.push(p));
          const iterated: unknown[] = [];
          for await (const p of handle.progress()) iterated.push(p);
          expect(await handle.result()).to.equal(3);
          const expected = [1, 2, 3].map((i) => ({ value: i / 3, note: `step ${i}` }));
          expect(heard).to.deep.equal(expected);
          expect(iterated).to.deep.equal(expected);
          // A handle by id (no socket submit) subscribes for progress itself.
          const later = client.task(await steps.submit([2]).then((h) => h.id));
          const seen: unknown[] = [];
          for await (const p of later.progress()) seen.push(p);
          expect(seen.at(-1)).to.deep.equal({ value: 1, note: 'step 2' });
          expect(() => later.on('other' as 'progress', () => {})).to.throw(TypeError);
        } finally {
          client.close();
        }
      });

      if (mode !== 'local') {
        it('keeps the results path working, text and binary, for tasks that report progress', async () => {
          const fn = await grid.register(`async function big(n) {
            progress(0.5, 'building');
            await new Promise((r) => setTimeout(r, 200));
            return 'x'.repeat(n);
          }`);
          const ids = [await socket.submit(fn, [10]), await socket.submit(fn, [300_000])];
          for (const [i, id] of ids.entries()) {
            const result = await socket.next(isResult(id));
            expect(result.type === 'result' && deserialize(result.result ?? '')).to.equal(
              'x'.repeat(i ? 300_000 : 10),
            );
            expect(socket.of(id)[0]).to.deep.equal({
              type: 'progress',
              task_id: id,
              value: 0.5,
              note: 'building',
            });
          }
        });
      }
    });
  }
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`progress from a rogue worker: ${kind} store, push mode`, function () {
    this.timeout(60_000);
    let server: GridServer;
    let writes: Write[];
    let rogue: RogueWorker;
    let grid: GridClient;

    beforeEach(async () => {
      const logged = logWrites(await openStore(kind));
      writes = logged.writes;
      server = await GridServer.start(testConfig(kind, { mode: 'push' }), {
        store: logged.store,
        log: pino({ level: 'silent' }),
      });
      grid = new GridClient(server.url);
      rogue = await RogueWorker.connect(`${server.url.replace(/^http/, 'ws')}/ws`);
    });
    afterEach(async () => {
      await rogue.close();
      await server.close();
      await killAll();
    });

    it('writes a flood of updates at about ten a second, the latest winning, and ignores tasks the worker does not hold', async () => {
      const fn = await grid.register('(n) => n');
      const held = await grid.submit(fn, [1]);
      const [task] = await rogue.received(1);
      expect(task?.id).to.equal(held);
      // A real worker joins, and takes a slow task the rogue does not hold.
      await startWorker(`${server.url.replace(/^http/, 'ws')}/ws`, ['--threads', '1']);
      const slow = await grid.register(
        `async (n) => { await new Promise((r) => setTimeout(r, 1500)); return n }`,
      );
      const other = await grid.submit(slow, [2]);
      await until(
        async () => (await server.store.getTask(other))?.status,
        (s) => s === 'RUNNING',
        10_000,
        20,
      );
      const attempt = task?.attempt ?? 1;
      const flood = Array.from({ length: 3000 }, (_, i) => ({
        type: 'progress',
        id: held,
        attempt,
        value: (i + 1) / 3000,
        note: `n${i + 1}`,
      }));
      const started = Date.now();
      rogue.sendRaw([
        ...flood.slice(0, 1500),
        // Not its task, not its attempt, no task at all: each ignored.
        { type: 'progress', id: other, attempt: 1, value: 0.9, note: 'forged' },
        { type: 'progress', id: held, attempt: attempt + 1, value: 0.1, note: 'wrong attempt' },
        { type: 'progress', id: randomUUID(), attempt: 1, value: 0.1 },
        ...flood.slice(1500),
      ]);
      const last = await until(
        async () => (await server.store.getTask(held))?.progress,
        (p) => p?.note === 'n3000',
        10_000,
        20,
      );
      expect(last).to.include({ value: 1, note: 'n3000' });
      const mine = writes.filter((w) => w.id === held);
      const spanMs = Date.now() - started;
      expect(mine.length, `${mine.length} writes in ${spanMs} ms`).to.be.at.most(
        Math.floor(spanMs / 90) + 2,
      );
      expect(writes.filter((w) => w.id !== held)).to.deep.equal([]);
      expect((await server.store.getTask(other))?.progress).to.equal(undefined);
      // Nobody was disconnected: the rogue still holds its socket, and the real worker finishes.
      expect(rogue.open).to.equal(true);
      expect(await grid.wait(other)).to.include({ status: 'COMPLETED' });
      await rogue.sendResults([{ id: held, attempt, status: 'COMPLETED', value: '1', run_ms: 1 }]);
      expect(await grid.wait(held)).to.include({ status: 'COMPLETED' });
      // After the result, its updates change nothing.
      rogue.sendRaw([{ type: 'progress', id: held, attempt, value: 0.2, note: 'late' }]);
      await sleep(300);
      expect((await server.store.getTask(held))?.progress).to.include({ note: 'n3000' });
      expect(rogue.open).to.equal(true);
    });

    it('closes a worker that sends a malformed progress message (protocol error), as for any bad frame', async () => {
      rogue.sendRaw([{ type: 'progress', id: 'x', attempt: 1, value: 2 }]);
      await until(
        async () => rogue.open,
        (open) => !open,
        5000,
        20,
      );
      expect(rogue.open).to.equal(false);
    });
  });
}

describe('progress from a sandboxed worker (taskgrid worker --sandbox)', function () {
  this.timeout(60_000);
  let server: GridServer | undefined;
  afterEach(async () => {
    await server?.close();
    await killAll();
  });

  it('reaches the task subscriber as from any worker', async () => {
    server = await GridServer.start(testConfig('memory', { mode: 'push' }), {
      log: pino({ level: 'silent' }),
    });
    await startWorker(`${server.url.replace(/^http/, 'ws')}/ws`, ['--threads', '1', '--sandbox']);
    const socket = await ClientSocket.open(server.url);
    try {
      const fn = await new GridClient(server.url).register(HALF_THEN_SLEEP);
      const id = await socket.submit(fn, []);
      expect(await socket.next(isProgress(id))).to.include({ value: 0.5, note: 'half' });
      expect(await socket.next(isResult(id))).to.include({ status: 'COMPLETED' });
    } finally {
      socket.close();
    }
  });
});

describe('progress across two servers on one Redis', function () {
  this.timeout(60_000);
  const servers: GridServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("pushes a task's progress to a subscriber on another server", async () => {
    const prefix = uniquePrefix();
    const store = { kind: 'redis' as const, url: testRedis().url, prefix, required: true };
    const log = pino({ level: 'silent' });
    // A runs tasks; B has no workers (push mode), so it only serves the subscriber.
    const a = await GridServer.start({ ...testConfig('redis', { mode: 'local' }), store }, { log });
    servers.push(a);
    const b = await GridServer.start({ ...testConfig('redis', { mode: 'push' }), store }, { log });
    servers.push(b);
    const grid = new GridClient(a.url);
    const fn = await grid.register(`async () => {
      await new Promise((r) => setTimeout(r, 400));
      progress(0.4, 'from A');
      await new Promise((r) => setTimeout(r, 400));
      return 1;
    }`);
    const socket = await ClientSocket.open(b.url);
    try {
      const id = await grid.submit(fn, []);
      socket.subscribe([id]);
      expect(await socket.next(isProgress(id))).to.deep.equal({
        type: 'progress',
        task_id: id,
        value: 0.4,
        note: 'from A',
      });
      expect(await socket.next(isResult(id))).to.include({ status: 'COMPLETED' });
    } finally {
      socket.close();
    }
  });
});
