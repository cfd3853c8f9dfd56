/**
 * The ops console (GET /) in a real headless Chromium, on a push-mode grid
 * with a token and the Redis store: the page asks for the token (again after
 * a wrong one) and keeps it for the tab; with no worker connected it shows
 * the queue by priority, the functions, a function's tasks page by page,
 * and cancels queued tasks from a list and from a task's detail; with a
 * worker, a task that fails until a flag file exists is opened from the
 * failed list (error, stack, arguments, worker), retried, and seen
 * COMPLETED with its result. Any script error in the page fails the test.
 *
 * CONSOLE_SCREENSHOTS=1 saves the README's pictures, docs/console-tasks.png
 * and docs/console-task-detail.png (not on ordinary runs).
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import type { GridServer } from '../server/grid-server.js';
import { launchChromium } from './helpers/chromium.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, startWorker } from './helpers/processes.js';

const TOKEN = 'console-token';
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1';
/** Fails until a file exists at `path`, then answers what the file says. */
const NEEDS_FLAG = `async function needsFlag(path) {
  const fs = await import('node:fs');
  if (!fs.existsSync(path)) throw new RangeError('no flag at ' + path);
  return { flag: fs.readFileSync(path, 'utf8') };
}`;

/** The queue-by-priority table as `priority:count` pairs, highest first. */
const PRIORITIES = `[...document.querySelectorAll('#priorities tr')]
  .map((r) => r.dataset.priority + ':' + r.children[1].textContent).join(' ')`;

async function submitAt(grid: GridClient, fn: string, count: number, priority: number) {
  const reply = await grid.call<{ task_ids: string[] }>('POST', '/execute_batch', {
    function_id: fn,
    payloads: Array.from({ length: count }, (_, i) => JSON.stringify([i])),
    priority,
  });
  expect(reply.status).to.equal(201);
  return reply.body.task_ids;
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? '';
}

describe('ops console in headless Chromium', function () {
  this.timeout(60_000);
  let browser: Browser;
  let server: GridServer;
  let grid: GridClient;
  let page: Page;
  const pageErrors: Error[] = [];
  const flags = mkdtempSync(join(tmpdir(), 'taskgrid-console-'));

  before(async function () {
    browser = await launchChromium(this);
    server = await startInProcess('redis', { mode: 'push', token: TOKEN });
    grid = new GridClient(server.url, TOKEN);
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error));
  });
  afterEach(() => {
    expect(pageErrors.map((e) => e.message)).to.deep.equal([]);
  });
  after(async () => {
    await browser?.close();
    await killAll();
    await server?.close();
    rmSync(flags, { recursive: true, force: true });
  });

  it('asks for the token, again after a wrong one, and keeps it for the tab', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('#token-dialog').waitFor({ state: 'visible' });
    expect(await text(page, '#token-why')).to.equal('This grid needs a token.');
    await page.fill('#token-input', 'wrong');
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#token-why:text("refused that token")');
    await page.locator('#token-dialog').waitFor({ state: 'visible' });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#status:text("live")');
    await page.waitForSelector('#functions-note:text("none")');
    expect(await page.isHidden('#token-dialog')).to.equal(true);
    expect(await page.evaluate("sessionStorage.getItem('taskgrid.token')")).to.equal(TOKEN);

    // A reload of the tab finds it: no question this time.
    await page.reload();
    await page.waitForSelector('#status:text("live")');
    await page.waitForSelector('#functions-note:text("none")');
    expect(await page.isHidden('#token-dialog')).to.equal(true);
  });

  it('shows the queue by priority and the functions, pages a function’s tasks, and cancels queued ones', async () => {
    // No worker has the label `parked`: its tasks stay QUEUED for the whole suite.
    const registered = await grid.call<{ function_id: string }>('POST', '/register_function', {
      name: 'parked',
      payload: 'function parked(n) { return n }',
      labels: ['parked'],
    });
    const parked = registered.body.function_id;
    const other = await grid.register('n => n', 'other');
    const high = await submitAt(grid, parked, 3, 5);
    await submitAt(grid, parked, 22, -2);
    const [zero] = await submitAt(grid, parked, 1, 0);
    await submitAt(grid, other, 1, 0);

    await page.waitForFunction(`${PRIORITIES} === '5:3 0:2 -2:22'`);
    expect(await text(page, '#queue')).to.equal('27');

    await page.click('#tasks-refresh');
    const fnRow = page.locator(`#functions tr[data-function="${parked}"]`);
    await fnRow.waitFor();
    expect(await fnRow.locator('td').first().textContent()).to.equal('parked');
    expect(await fnRow.locator('td').nth(3).textContent()).to.equal('parked');
    expect(await page.locator('#functions tr').count()).to.equal(2);

    // Its tasks, newest first, 20 a page: 26 in all.
    await fnRow.locator('button.show-tasks').click();
    await page.waitForSelector('#tasks-note:text("page 1 · 20 tasks · parked")');
    const names = await page.locator('#tasks tr td:nth-child(2)').allTextContents();
    expect(new Set(names)).to.deep.equal(new Set(['parked']));
    expect(await page.locator('#tasks tr').first().getAttribute('data-task')).to.equal(zero);
    await page.click('#tasks-older');
    await page.waitForSelector('#tasks-note:text("page 2 · 6 tasks")');
    expect(await page.isDisabled('#tasks-older')).to.equal(true);
    expect(await page.locator(`#tasks tr[data-task="${high[0]}"]`).count()).to.equal(1);
    await page.click('#tasks-newer');
    await page.waitForSelector('#tasks-note:text("page 1 · 20 tasks")');

    // Cancel from the list.
    const zeroRow = `#tasks tr[data-task="${zero}"]`;
    await page.click(`${zeroRow} button.cancel`);
    await page.waitForSelector(`${zeroRow} .note:text("cancelled: CANCELLED")`);
    await page.click('#tasks-refresh');
    await page.waitForSelector(`${zeroRow}[data-status="CANCELLED"]`);

    // Cancel from a task's detail.
    await page.click('#tasks-older');
    await page.click(`#tasks tr[data-task="${high[0]}"] td:first-child`);
    await page.waitForSelector('#detail[data-status="QUEUED"]');
    expect(await text(page, '#detail-id')).to.equal(high[0]);
    expect(await text(page, '#detail dd[data-field="priority"]')).to.equal('5');
    expect(await text(page, '#detail dd[data-field="labels"]')).to.equal('parked');
    expect(await text(page, '#detail dd[data-field="waiting_for"]')).to.equal(
      'a worker with labels parked',
    );
    expect(await text(page, '#detail-args')).to.equal(JSON.stringify([0], null, 2));
    await page.click('#detail-cancel');
    await page.waitForSelector('#detail[data-status="CANCELLED"]');
    expect(await text(page, '#detail-outcome')).to.equal('cancelled: CANCELLED');
    expect(await page.isDisabled('#detail-cancel')).to.equal(true);
    expect(await page.isEnabled('#detail-retry')).to.equal(true);
    expect((await grid.call('GET', `/status/${high[0]}`)).body.status).to.equal('CANCELLED');
    await page.click('#detail-close');

    await page.waitForFunction(`${PRIORITIES} === '5:2 0:1 -2:22'`);
    await page.selectOption('#filter-status', 'CANCELLED');
    await page.waitForSelector('#tasks-note:text("page 1 · 2 tasks · CANCELLED, parked")');
  });

  it('opens a failed task from the failed list, retries it and shows it COMPLETED with its result', async () => {
    await startWorker(`${server.url.replace(/^http/, 'ws')}/ws`, [
      '--threads',
      '1',
      '--token',
      TOKEN,
    ]);
    const flag = join(flags, 'green-light');
    const fn = await grid.register(NEEDS_FLAG, 'needs-flag');
    const id = await grid.submit(fn, [flag]);
    expect((await grid.wait(id)).status).to.equal('FAILED');
    const message = `RangeError: no flag at ${flag}`;

    await page.click('#tasks-refresh');
    const row = page.locator(`#failed tr[data-task="${id}"]`);
    await row.waitFor();
    expect(await row.locator('.error').textContent()).to.equal(message);
    expect(await row.locator('td').nth(1).textContent()).to.equal('needs-flag');

    await row.locator('td').first().click();
    await page.waitForSelector('#detail[data-status="FAILED"]');
    expect(await text(page, '#detail-error')).to.equal(message);
    const stack = await text(page, '#detail-stack');
    expect(stack.startsWith(message)).to.equal(true);
    expect(stack).to.match(/\n\s+at /);
    expect(await text(page, '#detail-args')).to.equal(JSON.stringify([flag], null, 2));
    expect(await text(page, '#detail dd[data-field="attempts"]')).to.equal('1');
    // The worker that ran it, and the server it was connected to.
    const [worker] = (await grid.call<{ id: string }[]>('GET', '/workers')).body;
    const ranBy = page.locator('#detail dd[data-field="worker"] span');
    expect(await ranBy.textContent()).to.equal(
      `${worker?.id} on server ${server.instanceId.slice(0, 8)}`,
    );
    expect(await ranBy.getAttribute('title')).to.equal(`${server.instanceId}/${worker?.id}`);
    for (const field of ['created', 'started', 'finished', 'run_ms']) {
      expect(await page.locator(`#detail dd[data-field="${field}"]`).count(), field).to.equal(1);
    }

    if (SCREENSHOTS) {
      await page.selectOption('#filter-status', '');
      await page.selectOption('#filter-function', '');
      // The live part catches up with the worker that just connected (one stats message a second).
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(DOCS, 'console-task-detail.png') });
    }

    writeFileSync(flag, 'green');
    await page.click('#detail-retry');
    await page.waitForSelector('#detail[data-status="COMPLETED"]', { timeout: 15_000 });
    expect(await text(page, '#detail-outcome')).to.equal('retried: QUEUED');
    expect(JSON.parse(await text(page, '#detail-result'))).to.deep.equal({ flag: 'green' });
    expect(await page.isHidden('#detail-error-box')).to.equal(true);
    expect(await text(page, '#detail dd[data-field="attempts"]')).to.equal('2');
    expect(await page.locator('#detail-errors li').allTextContents()).to.deep.equal([
      `attempt 1: ${message}`,
    ]);

    if (SCREENSHOTS) {
      // One more in the failed list, for the picture.
      const other = await grid.submit(fn, [join(flags, 'red-light')]);
      expect((await grid.wait(other)).status).to.equal('FAILED');
      await page.click('#detail-close');
      await page.click('#tasks-refresh');
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(DOCS, 'console-tasks.png'), fullPage: true });
    }
  });
});
