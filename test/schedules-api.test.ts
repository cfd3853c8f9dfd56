/**
 * POST /schedules, GET /schedules and DELETE /schedule/:id on both stores:
 * status codes and bodies as the contract says, the replies against the
 * schemas /openapi.json publishes, a real fire that is an ordinary task, and
 * the SDK's schedule / schedules / unschedule.
 */

import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { FormatRegistry } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { expect } from 'chai';
import { pino } from 'pino';
import { validate as isUuid } from 'uuid';
import { TaskGrid, TaskGridHttpError } from '../client/task-grid.js';
import { GridServer } from '../server/grid-server.js';
import { CreateScheduleReply, SchedulesReply } from '../server/http/schedule-schemas.js';
import { RedisStore } from '../server/store/redis-store.js';
import { GridClient } from './helpers/grid-client.js';
import { type StoreKind, startInProcess, testConfig } from './helpers/in-process.js';
import { sleep, until } from './helpers/wait.js';

interface ScheduleBody {
  schedule_id: string;
  function_id: string;
  cron: string;
  payload: string;
  timezone?: string;
  priority?: number;
  timeout_ms?: number;
  next_run_at: number;
  created_at: number;
  last_run_at?: number;
  last_task_id?: string;
}

/** What `value` breaks of `schema` (uuid formats checked too). */
function noErrors(schema: Parameters<typeof TypeCompiler.Compile>[0], value: unknown): string[] {
  if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (v) => isUuid(v));
  return [...TypeCompiler.Compile(schema).Errors(value)].map((e) => `${e.path}: ${e.message}`);
}

for (const kind of ['memory', 'redis'] as StoreKind[]) {
  describe(`schedules REST API: ${kind} store`, function () {
    this.timeout(30_000);
    let server: GridServer;
    let grid: GridClient;
    let fn: string;
    before(async () => {
      server = await startInProcess(kind);
      grid = new GridClient(server.url);
      fn = await grid.register('function plus(a, b) { return a + b }', 'plus');
    });
    after(async () => {
      await server.close();
    });

    const post = (body: Record<string, unknown>) =>
      grid.call<{ schedule_id: string; next_run_at: number }>('POST', '/schedules', {
        function_id: fn,
        cron: '0 0 1 1 *',
        payload: '[1, 2]',
        ...body,
      });

    it('201 with the id and the first slot; GET lists it; DELETE removes it', async () => {
      const before = Date.now();
      const created = await post({ timezone: 'Europe/Paris', priority: 7, timeout_ms: 5_000 });
      expect(created.status).to.equal(201);
      expect(noErrors(CreateScheduleReply, created.body)).to.deep.equal([]);
      expect(isUuid(created.body.schedule_id)).to.equal(true);
      // Midnight on January 1st in Paris is 23:00 UTC on December 31st.
      const year = new Date(before).getUTCFullYear();
      const newYear = [year, year + 1].map((y) => Date.UTC(y - 1, 11, 31, 23));
      expect(newYear.filter((t) => t > before)[0]).to.equal(created.body.next_run_at);

      const list = await grid.call<{ schedules: ScheduleBody[] }>('GET', '/schedules');
      expect(list.status).to.equal(200);
      expect(noErrors(SchedulesReply, list.body)).to.deep.equal([]);
      const mine = list.body.schedules.find((s) => s.schedule_id === created.body.schedule_id);
      expect(mine).to.deep.equal({
        schedule_id: created.body.schedule_id,
        function_id: fn,
        cron: '0 0 1 1 *',
        payload: '[1, 2]',
        timezone: 'Europe/Paris',
        priority: 7,
        timeout_ms: 5_000,
        next_run_at: created.body.next_run_at,
        created_at: mine?.created_at,
      });
      expect(mine?.created_at).to.be.within(before, Date.now());

      const id = created.body.schedule_id;
      const deleted = await grid.call('DELETE', `/schedule/${id}`);
      expect(deleted).to.deep.equal({ status: 200, body: { schedule_id: id, deleted: true } });
      expect((await grid.call('DELETE', `/schedule/${id}`)).status).to.equal(404);
      const after = await grid.call<{ schedules: ScheduleBody[] }>('GET', '/schedules');
      expect(after.body.schedules.map((s) => s.schedule_id)).to.not.include(id);
    });

    it('400 for a bad cron, naming the problem', async () => {
      for (const cron of ['61 * * * *', '* * *', 'every minute', '@hourly', '* * * * * * *']) {
        const reply = await post({ cron });
        expect(reply.status, cron).to.equal(400);
        expect(JSON.stringify(reply.body), cron).to.match(/`cron`/);
      }
      expect(JSON.stringify((await post({ cron: '61 * * * *' })).body)).to.match(/0-59/);
    });

    it('400 for a bad time zone or payload', async () => {
      expect((await post({ timezone: 'Mars/Olympus' })).status).to.equal(400);
      expect((await post({ payload: '{"a":1}' })).status).to.equal(400);
      expect((await post({ payload: 'not json' })).status).to.equal(400);
    });

    it('404 for an unknown function', async () => {
      expect((await post({ function_id: '2d6f8a4e-1111-4111-8111-111111111111' })).status).to.equal(
        404,
      );
      expect((await post({ function_id: 'not-a-uuid' })).status).to.equal(404);
    });

    it('422 for a missing field or one of the wrong type', async () => {
      expect(
        (await grid.call('POST', '/schedules', { function_id: fn, payload: '[]' })).status,
      ).to.equal(422);
      expect((await post({ cron: 5 })).status).to.equal(422);
      expect((await post({ payload: [1] })).status).to.equal(422);
      expect((await post({ priority: 101 })).status).to.equal(422);
      expect((await post({ timeout_ms: 0 })).status).to.equal(422);
    });

    it('DELETE: 404 for an unknown schedule, 400 for a malformed id', async () => {
      const unknown = await grid.call('DELETE', '/schedule/2d6f8a4e-1111-4111-8111-111111111111');
      expect(unknown.status).to.equal(404);
      expect((await grid.call('DELETE', '/schedule/nope')).status).to.equal(400);
    });

    it('fires an ordinary task with the schedule’s arguments, priority and timeout', async () => {
      const created = await post({ cron: '* * * * * *', priority: 3, timeout_ms: 4_000 });
      expect(created.status).to.equal(201);
      const id = created.body.schedule_id;
      const fired = await until(
        async () =>
          (await grid.call<{ schedules: ScheduleBody[] }>('GET', '/schedules')).body.schedules.find(
            (s) => s.schedule_id === id,
          ),
        (s) => s?.last_task_id !== undefined,
        10_000,
        100,
      );
      await grid.call('DELETE', `/schedule/${id}`);
      const taskId = fired?.last_task_id as string;
      expect(fired?.last_run_at).to.be.a('number');
      const result = await grid.call('GET', `/result/${taskId}?wait=10000`);
      expect(result.body).to.deep.equal({ task_id: taskId, status: 'COMPLETED', result: '3' });
      const task = await server.store.getTask(taskId);
      expect(task).to.include({ function_id: fn, args: '[1, 2]', priority: 3, timeout_ms: 4_000 });
      // Listed as any task is.
      const listed = await grid.call<{ tasks: { task_id: string; priority: number }[] }>(
        'GET',
        `/tasks?function_id=${fn}`,
      );
      expect(listed.body.tasks.find((t) => t.task_id === taskId)).to.include({ priority: 3 });
      const one = await grid.call('GET', `/task/${taskId}`);
      expect(one.body).to.include({ task_id: taskId, status: 'COMPLETED', priority: 3 });
    });

    it('publishes the three routes in a valid OpenAPI document', async () => {
      const doc = await grid.call<{ paths: Record<string, Record<string, unknown>> }>(
        'GET',
        '/openapi.json',
      );
      const result = await new Validator().validate(doc.body);
      expect(result.errors ?? []).to.deep.equal([]);
      expect(Object.keys(doc.body.paths['/schedules'] ?? {})).to.have.members(['post', 'get']);
      expect(Object.keys(doc.body.paths['/schedule/{schedule_id}'] ?? {})).to.deep.equal([
        'delete',
      ]);
    });

    it('SDK: schedule, schedules and unschedule', async () => {
      const sdk = new TaskGrid({ url: server.url });
      try {
        const plus = sdk.function<[number, number], number>(fn);
        const { scheduleId, nextRunAt } = await sdk.schedule(plus, {
          cron: '30 4 * * MON',
          args: [2, 3],
          timezone: 'Asia/Tokyo',
          priority: -1,
          timeoutMs: 1_000,
        });
        expect(isUuid(scheduleId)).to.equal(true);
        expect(nextRunAt).to.be.greaterThan(Date.now());
        const mine = (await sdk.schedules()).find((s) => s.scheduleId === scheduleId);
        expect(mine).to.deep.include({
          functionId: fn,
          cron: '30 4 * * MON',
          payload: '[2,3]',
          timezone: 'Asia/Tokyo',
          priority: -1,
          timeoutMs: 1_000,
          nextRunAt,
        });
        await sdk.unschedule(scheduleId);
        expect((await sdk.schedules()).map((s) => s.scheduleId)).to.not.include(scheduleId);
        const refused = await sdk.unschedule(scheduleId).catch((e: unknown) => e);
        expect(refused).to.be.instanceOf(TaskGridHttpError).and.include({ status: 404 });
        const bad = await sdk.schedule(fn, { cron: 'nope', args: [] }).catch((e: unknown) => e);
        expect(bad).to.be.instanceOf(TaskGridHttpError).and.include({ status: 400 });
      } finally {
        sdk.close();
      }
    });
  });
}

describe('schedules stop with the server', () => {
  it('fires nothing and looks at nothing after close', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const config = testConfig('redis');
    const server = await GridServer.start(config, { log });
    const store = config.store;
    if (store.kind !== 'redis') throw new Error('expected a Redis store');
    const grid = new GridClient(server.url);
    const fn = await grid.register('function one() { return 1 }');
    const created = await grid.call<{ schedule_id: string }>('POST', '/schedules', {
      function_id: fn,
      cron: '* * * * * *',
      payload: '[]',
    });
    const id = created.body.schedule_id;
    const peek = new RedisStore({ url: store.url, prefix: store.prefix, instanceId: randomUUID() });
    await peek.connect();
    try {
      await until(
        async () => (await peek.schedules.get(id))?.last_task_id,
        (t) => t !== undefined,
        10_000,
        50,
      );
      await server.close();
      const atClose = await peek.schedules.get(id);
      const logged = lines.length;
      await sleep(1_500);
      expect(await peek.schedules.get(id)).to.deep.equal(atClose);
      // A scheduler still running would try its closed store each second, and say so.
      expect(lines.slice(logged).filter((l) => l.includes('schedules:'))).to.deep.equal([]);
    } finally {
      await peek.close();
      await server.close();
    }
  });
});
