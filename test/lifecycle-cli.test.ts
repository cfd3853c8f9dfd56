/**
 * The task lifecycle from a shell, against a real server on both stores:
 * `taskgrid tasks --status FAILED` lists dead letters with their error,
 * `task` prints one, `retry` runs one again, `functions` lists functions,
 * `delete-function` deletes one, and `submit` takes the lifecycle flags.
 * Wrong flag values fail before any request, naming the flag.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { GridServer } from '../server/grid-server.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, runCli } from './helpers/processes.js';

/** Runs `taskgrid <args>` to its end; its exit code and everything it printed. */
async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const proc = runCli(args);
  const code = await proc.exited;
  return { code, out: proc.output() };
}

describe('taskgrid lifecycle commands: flag errors name the flag', () => {
  afterEach(killAll);
  const file = '/nonexistent/never-read.mjs';
  const cases: [string[], RegExp][] = [
    [['submit', file, '--priority', '101'], /--priority.*-100 to 100.*101/],
    [['submit', file, '--priority', 'high'], /--priority.*integer.*high/],
    [['submit', file, '--delay-ms', '-5'], /--delay-ms.*integer/],
    [['submit', file, '--deadline-ms', '0'], /--deadline-ms/],
    [['submit', file, '--timeout-ms', 'soon'], /--timeout-ms/],
    [['submit', file, '--retry-max', '3'], /--retry-backoff.*fixed.*exponential/],
    [
      ['submit', file, '--retry-max', '3', '--retry-backoff', 'slow', '--retry-delay-ms', '1'],
      /--retry-backoff.*slow/,
    ],
    [
      ['submit', file, '--retry-max', '0', '--retry-backoff', 'fixed', '--retry-delay-ms', '1'],
      /--retry-max.*1 to 100/,
    ],
    [['submit', file, '--each', 'x.json', '--idempotency-key', 'k'], /--idempotency-key.*--each/],
    [['tasks', '--status', 'lost'], /--status.*FAILED.*lost/],
    [['tasks', '--limit', '1001'], /--limit.*1 to 1000/],
    [['tasks', '--limit', 'all'], /--limit.*all/],
  ];
  for (const [args, message] of cases) {
    it(`taskgrid ${args.join(' ')}`, async () => {
      const { code, out } = await cli(args);
      expect(code).to.equal(2);
      expect(out).to.match(message);
    });
  }
});

// The CLI and SDK surfaces over two stores; the cluster store's lifecycle is checked over REST.
for (const store of ['memory', 'redis'] as const) {
  describe(`taskgrid lifecycle commands (${store} store)`, function () {
    this.timeout(60_000);
    let server: GridServer;
    let rest: GridClient;
    let dir: string;
    let url: string[];
    before(async () => {
      server = await startInProcess(store);
      rest = new GridClient(server.url);
      url = ['--url', server.url];
      dir = mkdtempSync(join(tmpdir(), 'taskgrid-cli-'));
    });
    after(async () => {
      await killAll();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('lists a failed task with its error, prints it, and retries it', async () => {
      const fn = await rest.register('function boom(n) { throw new RangeError("boom " + n) }');
      const id = await rest.submit(fn, [7]);
      expect((await rest.wait(id)).status).to.equal('FAILED');

      const table = await cli(['tasks', '--status', 'failed', '--function', fn, ...url]);
      expect(table.code).to.equal(0);
      const lines = table.out.trim().split('\n');
      expect(lines[0]).to.match(/^TASK\s+FUNCTION\s+STATUS\s+PRIORITY\s+ATTEMPTS\s+CREATED/);
      expect(lines).to.have.length(2);
      expect(lines[1]).to.match(new RegExp(`^${id}\\s+${fn.slice(0, 8)}\\s+FAILED\\s+0\\s+1\\s`));
      expect(lines[1]).to.match(/RangeError: boom 7$/);

      const json = await cli(['tasks', '--status', 'FAILED', '--function', fn, '--json', ...url]);
      const page = JSON.parse(json.out) as { tasks: { id: string; status: string }[] };
      expect(page.tasks.map((t) => [t.id, t.status])).to.deep.equal([[id, 'FAILED']]);

      const one = await cli(['task', id, ...url]);
      expect(one.code).to.equal(0);
      expect(one.out).to.match(new RegExp(`^task\\s+${id}$`, 'm'));
      expect(one.out).to.match(/^status\s+FAILED$/m);
      expect(one.out).to.match(/^error\s+RangeError: boom 7$/m);

      const retried = await cli(['retry', id, ...url]);
      expect(retried.code).to.equal(0);
      expect(retried.out.trim()).to.equal(`${id} QUEUED`);
      const after = await rest.wait(id);
      expect(after.status).to.equal('FAILED');
      const record = await rest.call<{ attempts: number }>('GET', `/task/${id}`);
      expect(record.body.attempts).to.equal(2);
    });

    it('refuses to retry a task that did not fail, and names an unknown one', async () => {
      const fn = await rest.register('function ok() { return 1 }');
      const id = await rest.submit(fn, []);
      await rest.wait(id);
      const conflict = await cli(['retry', id, ...url]);
      expect(conflict.code).to.equal(2);
      expect(conflict.out).to.match(/^taskgrid: error: /);
      const unknown = await cli(['task', '00000000-0000-4000-8000-000000000000', ...url]);
      expect(unknown.code).to.equal(2);
      expect(unknown.out).to.match(/^taskgrid: error: /);
    });

    it('submits with lifecycle flags; the task carries them', async () => {
      const file = join(dir, 'triple.mjs');
      writeFileSync(file, 'export default function triple(n) { return 3 * n }\n');
      const run = await cli([
        'submit',
        file,
        '14',
        '--priority',
        '9',
        '--deadline-ms',
        '60000',
        '--retry-max',
        '2',
        '--retry-backoff',
        'fixed',
        '--retry-delay-ms',
        '5',
        ...url,
      ]);
      expect(run.code, run.out).to.equal(0);
      expect(JSON.parse(run.out)).to.equal(42);
      const functions = JSON.parse((await cli(['functions', '--json', ...url])).out) as {
        id: string;
        name: string;
      }[];
      const triple = functions.find((f) => f.name === 'triple');
      expect(triple).to.not.equal(undefined);
      const listed = await cli(['tasks', '--function', triple?.id ?? '', '--json', ...url]);
      const { tasks } = JSON.parse(listed.out) as { tasks: Record<string, unknown>[] };
      expect(tasks).to.have.length(1);
      const [task] = tasks;
      expect(task).to.include({ status: 'COMPLETED', priority: 9, attempts: 1 });
      expect(task).to.have.property('deadlineAt').that.is.a('number');
    });

    it('lists functions and deletes one', async () => {
      const fn = await rest.register('function listed(n) { return n }', 'listed');
      const table = await cli(['functions', ...url]);
      expect(table.code).to.equal(0);
      expect(table.out).to.match(/^FUNCTION\s+NAME\s+CREATED/);
      expect(table.out).to.match(new RegExp(`^${fn}\\s+listed\\s`, 'm'));
      const json = JSON.parse((await cli(['functions', '--json', ...url])).out) as { id: string }[];
      expect(json.map((f) => f.id)).to.include(fn);

      const deleted = await cli(['delete-function', fn, ...url]);
      expect(deleted.code).to.equal(0);
      expect(deleted.out.trim()).to.equal(`deleted ${fn}; 0 task(s) cancelled`);
      expect((await cli(['functions', ...url])).out).to.not.include(fn);
    });
  });
}
