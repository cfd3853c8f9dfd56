/**
 * The SDK's task-lifecycle surface against a real server, on both stores:
 * submit options (on the client socket and in batches) reach the task's
 * record, failed tasks are listed as dead letters and retried under the
 * same id, tasks are paged newest first, and functions are listed, read and
 * deleted (their waiting tasks cancelled).
 */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { expect } from 'chai';
import WebSocket from 'ws';
import { RemoteTaskError, TaskGrid, TaskGridHttpError } from '../client/task-grid.js';
import type { GridServer } from '../server/grid-server.js';
import { OptionError } from '../shared/options.js';
import { startInProcess } from './helpers/in-process.js';

/** A delay no test waits out: the task stays WAITING for the whole test. */
const LONG_DELAY_MS = 600_000;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

// The CLI and SDK surfaces over two stores; the cluster store's lifecycle is checked over REST.
for (const store of ['memory', 'redis'] as const) {
  describe(`SDK task lifecycle (local mode, ${store} store)`, function () {
    this.timeout(60_000);
    let server: GridServer;
    let grid: TaskGrid;
    before(async () => {
      server = await startInProcess(store);
      grid = new TaskGrid({ url: server.url });
    });
    after(async () => {
      grid.close();
      await server.close();
    });

    it('submits with options on the socket; the record shows them', async () => {
      const add = await grid.register((a: number, b: number) => a + b);
      const handle = await add.submit([2, 3], { priority: 7, deadlineMs: 60_000, timeoutMs: 5000 });
      expect(await handle.result()).to.equal(5);
      const info = await handle.info();
      expect(info).to.deep.include({
        id: handle.id,
        functionId: add.id,
        status: 'COMPLETED',
        priority: 7,
        attempts: 1,
        result: 5,
        errors: [],
      });
      expect(info.deadlineAt).to.be.a('number');
      expect((info.deadlineAt ?? 0) - info.createdAt).to.be.closeTo(60_000, 5_000);
      expect(info.startedAt).to.be.at.least(info.createdAt);
      expect(info.finishedAt).to.be.at.least(info.startedAt ?? Number.POSITIVE_INFINITY);
    });

    it('takes the options on a raw socket submit frame, as POST /execute_function does', async () => {
      const echo = await grid.register((s: string) => s);
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws/client`);
      try {
        await once(ws, 'open');
        const answered = once(ws, 'message');
        ws.send(
          JSON.stringify({
            type: 'submit',
            ref: 'r1',
            function_id: echo.id,
            payload: '["x"]',
            priority: -4,
            delay_ms: LONG_DELAY_MS,
            deadline_ms: 2 * LONG_DELAY_MS,
            retry: { max_attempts: 2, backoff: 'fixed', delay_ms: 5 },
          }),
        );
        const answer = JSON.parse(String((await answered)[0])) as { type: string; task_id: string };
        expect(answer).to.include({ type: 'submitted', ref: 'r1' });
        const task = grid.task(answer.task_id);
        const info = await task.info();
        expect(info).to.include({ status: 'WAITING', priority: -4 });
        expect((info.deadlineAt ?? 0) - info.createdAt).to.be.closeTo(2 * LONG_DELAY_MS, 5_000);
        await task.cancel();
      } finally {
        ws.close();
      }
    });

    it('carries labels on a socket submit: the task waits for a worker that has them', async () => {
      const echo = await grid.register((s: string) => s);
      const handle = await echo.submit(['x'], { labels: ['gpu-only-here'] });
      const info = await handle.info();
      expect(info.labels).to.include('gpu-only-here');
      expect(info.status).to.equal('QUEUED');
      expect(await handle.cancel()).to.equal('CANCELLED');
    });

    it('refuses a wrong option before sending, and the socket keeps working', async () => {
      const add = await grid.register((a: number, b: number) => a + b);
      const error = await rejection(add.submit([1, 2], { priority: 500 }));
      expect(error).to.be.instanceOf(OptionError).with.property('option', 'priority');
      const old = await rejection(add.submit(4 as unknown as [number, number]));
      expect(old).to.be.instanceOf(OptionError).with.property('option', 'args');
      expect(await add(1, 2)).to.equal(3);
    });

    it('delays a task: WAITING until its time comes, then it runs', async () => {
      const echo = await grid.register((s: string) => s);
      const later = await echo.submit(['later'], { delayMs: LONG_DELAY_MS });
      const waiting = await later.info();
      expect(waiting.status).to.equal('WAITING');
      expect((waiting.runAt ?? 0) - waiting.createdAt).to.be.closeTo(LONG_DELAY_MS, 5_000);
      expect(await later.cancel()).to.equal('CANCELLED');
      const soon = await echo.submit(['soon'], { delayMs: 50 });
      expect(await soon.result()).to.equal('soon');
    });

    it('answers a repeated idempotency key with the task stored the first time', async () => {
      const echo = await grid.register((s: string) => s);
      const idempotencyKey = `order-${randomUUID()}`;
      const first = await echo.submit(['once'], { idempotencyKey });
      const again = await echo.submit(['twice'], { idempotencyKey });
      expect(again.id).to.equal(first.id);
      expect(await again.result()).to.equal('once');
      const page = await grid.tasks({ functionId: echo.id });
      expect(page.tasks.map((t) => t.id)).to.deep.equal([first.id]);
    });

    it('retries a throwing function per its policy, then lists it as a dead letter', async () => {
      const boom = await grid.register(function boom(): never {
        throw new RangeError('no');
      });
      const handle = await boom.submit([], {
        retry: { maxAttempts: 3, backoff: 'fixed', delayMs: 10 },
      });
      const error = await rejection(handle.result());
      expect(error).to.be.instanceOf(RemoteTaskError).with.property('name', 'RangeError');
      const info = await handle.info();
      expect(info).to.include({ status: 'FAILED', attempts: 3 });
      expect(info.error).to.include({ name: 'RangeError', message: 'no' });
      const failedRuns = info.errors.map((e) => e.attempt);
      expect(failedRuns).to.include.members([1, 2]);
      for (const e of info.errors) expect(e).to.include({ name: 'RangeError', message: 'no' });

      const dead = await grid.tasks({ status: 'FAILED', functionId: boom.id });
      expect(dead.tasks.map((t) => t.id)).to.deep.equal([handle.id]);
      expect(dead.tasks[0]).to.include({ status: 'FAILED', attempts: 3 });
      expect(dead.tasks[0]).to.not.have.property('result');
    });

    it('retries a FAILED or CANCELLED task under the same id; others answer 409, unknown 404', async () => {
      const boom = await grid.register(function boom(n: number): never {
        throw new Error(`no ${n}`);
      });
      const failed = await boom.submit([1]);
      await rejection(failed.result());
      expect(await failed.retry()).to.equal('QUEUED');
      // The new attempt's outcome, not the first one's.
      const again = await rejection(failed.result());
      expect(again).to.be.instanceOf(RemoteTaskError).with.property('message', 'no 1');
      expect(await failed.info()).to.include({ id: failed.id, status: 'FAILED', attempts: 2 });

      const echo = await grid.register((s: string) => s);
      const cancelled = await echo.submit(['back'], { delayMs: LONG_DELAY_MS });
      await cancelled.cancel();
      expect(await grid.retry(cancelled.id)).to.equal('QUEUED');
      expect(await grid.task(cancelled.id).result()).to.equal('back');

      const done = await echo.submit(['done']);
      await done.result();
      const conflict = await rejection(grid.retry(done.id));
      expect(conflict).to.be.instanceOf(TaskGridHttpError).with.property('status', 409);
      const unknown = await rejection(grid.retry(randomUUID()));
      expect(unknown).to.be.instanceOf(TaskGridHttpError).with.property('status', 404);
      const malformed = await rejection(grid.task('not-an-id').info());
      expect(malformed).to.be.instanceOf(TaskGridHttpError).with.property('status', 400);
    });

    it('pages tasks newest first, and allTasks walks every page once', async () => {
      const square = await grid.register((n: number) => n * n);
      const results: number[] = [];
      for await (const value of square.map([[1], [2], [3], [4], [5]], { priority: 3 })) {
        results.push(value);
      }
      expect(results).to.deep.equal([1, 4, 9, 16, 25]);
      const first = await grid.tasks({ functionId: square.id, limit: 2 });
      expect(first.tasks).to.have.length(2);
      expect(first.nextCursor).to.be.a('string');
      const all = [];
      for await (const task of grid.allTasks({ functionId: square.id, limit: 2 })) all.push(task);
      expect(all).to.have.length(5);
      expect(new Set(all.map((t) => t.id)).size).to.equal(5);
      expect(all.slice(0, 2).map((t) => t.id)).to.deep.equal(first.tasks.map((t) => t.id));
      for (let i = 1; i < all.length; i++) {
        expect(all[i - 1]?.createdAt).to.be.at.least(all[i]?.createdAt ?? 0);
      }
      for (const task of all) expect(task).to.include({ status: 'COMPLETED', priority: 3 });
      const none = await grid.tasks({ functionId: square.id, status: 'FAILED' });
      expect(none).to.deep.equal({ tasks: [] });
      const wrong = await rejection(grid.tasks({ limit: 0 }));
      expect(wrong).to.be.instanceOf(OptionError).with.property('option', 'limit');
    });

    it('lists functions, reads one with its source, and deletes one, cancelling its waiting tasks', async () => {
      const retry = { maxAttempts: 2, backoff: 'exponential', delayMs: 100 } as const;
      const triple = await grid.register(
        function triple(n: number): number {
          return 3 * n;
        },
        { timeoutMs: 5000, retry, labels: ['cpu'], concurrency: 2 },
      );
      const listed = (await grid.functions()).find((f) => f.id === triple.id);
      expect(listed).to.deep.include({
        id: triple.id,
        name: 'triple',
        timeoutMs: 5000,
        retry,
        labels: ['cpu'],
        concurrency: 2,
      });
      expect(listed).to.not.have.property('source');
      const info = await triple.info();
      expect(info.source).to.match(/return 3 \* n/);

      const waiting = await triple.submit([1], { delayMs: LONG_DELAY_MS });
      const later = await triple.submit([2], { delayMs: LONG_DELAY_MS });
      expect(await grid.deleteFunction(triple.id)).to.deep.equal({ id: triple.id, cancelled: 2 });
      expect((await waiting.info()).status).to.equal('CANCELLED');
      expect((await later.info()).status).to.equal('CANCELLED');
      expect((await grid.functions()).map((f) => f.id)).to.not.include(triple.id);
      const gone = await rejection(triple.info());
      expect(gone).to.be.instanceOf(TaskGridHttpError).with.property('status', 404);
      const refused = await rejection(triple.submit([3]));
      expect(refused).to.be.instanceOf(TaskGridHttpError).with.property('status', 404);
    });
  });
}
