/** `taskgrid schedules`: lists the schedules of a server, and deletes one with --delete. */

import { expect } from 'chai';
import type { GridServer } from '../server/grid-server.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, runCli } from './helpers/processes.js';

describe('taskgrid schedules', () => {
  let server: GridServer;
  before(async () => {
    server = await startInProcess('memory');
  });
  after(async () => {
    await killAll();
    await server.close();
  });

  it('lists the schedules, and --delete removes one', async () => {
    const grid = new GridClient(server.url);
    const fn = await grid.register('function f(x) { return x }');
    const created = await grid.call<{ schedule_id: string; next_run_at: number }>(
      'POST',
      '/schedules',
      { function_id: fn, cron: '0 12 * * MON', payload: '[7]', timezone: 'Europe/Paris' },
    );
    const id = created.body.schedule_id;
    const list = runCli(['schedules', '--url', server.url]);
    expect(await list.exited).to.equal(0);
    expect(list.output()).to.include('1 schedule(s)');
    expect(list.output()).to.include(`${id}  0 12 * * MON (Europe/Paris)  fn ${fn.slice(0, 8)}`);
    expect(list.output()).to.include(`next ${new Date(created.body.next_run_at).toISOString()}`);

    const removed = runCli(['schedules', '--url', server.url, '--delete', id]);
    expect(await removed.exited).to.equal(0);
    expect(removed.output()).to.include(`deleted schedule ${id}`);
    const again = runCli(['schedules', '--url', server.url, '--delete', id]);
    expect(await again.exited).to.equal(2);
    expect(again.output()).to.match(/No schedule with id/);
    expect(
      (await grid.call<{ schedules: unknown[] }>('GET', '/schedules')).body.schedules,
    ).to.deep.equal([]);
  });
});
