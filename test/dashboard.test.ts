/**
 * The dashboard in a real headless Chromium (Debian's package, driven by
 * playwright-core): the page loads, lists a worker that connects, and its
 * counters move when tasks run; it lists failed tasks with their error and
 * retries one from its button, with a token and without one (the browser
 * guard lets the page's own requests through). Leaves a screenshot in
 * test-artifacts/dashboard.png. The console's own suite is console.test.ts.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/chromium.js';
import { GridClient } from './helpers/grid-client.js';
import { killAll, startServer, startWorker } from './helpers/processes.js';
import { redisFlags } from './helpers/root-hooks.js';
import { until } from './helpers/wait.js';

/** The part of GET /task/:id this test reads. */
interface TaskReply {
  status: string;
  attempts: number;
}

const SCREENSHOT = fileURLToPath(new URL('../../test-artifacts/dashboard.png', import.meta.url));

describe('dashboard in headless Chromium', function () {
  this.timeout(60_000);
  let browser: Browser;

  before(async function () {
    browser = await launchChromium(this);
  });
  after(async () => {
    await browser?.close();
    await killAll();
  });

  it('shows a worker that connects, and its counters move when tasks run', async () => {
    const server = await startServer(['--mode', 'push', ...redisFlags(), '--token', 'dash']);
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    await page.goto(`${server.url}/?token=dash`);
    await page.waitForSelector('#status:text("live")');
    // The token moved to the tab's session storage: the address bar no longer shows it.
    expect(page.url()).to.equal(`${server.url}/`);
    expect(await page.locator('#workers tr').count()).to.equal(0);

    await startWorker(server.wsUrl, ['--threads', '2', '--token', 'dash']);
    await page.waitForSelector('#workers tr', { timeout: 10_000 });
    expect(await page.textContent('#workers-count')).to.equal('1');

    const grid = new GridClient(server.url, 'dash');
    const fn = await grid.register(
      'async function work(n) { await new Promise(r => setTimeout(r, 2)); return n }',
    );
    for (let round = 0; round < 5; round++) {
      await grid.batch(
        fn,
        Array.from({ length: 1000 }, (_, i) => [i]),
      );
    }
    // A string runs in the page, where `document` exists.
    await page.waitForFunction(
      "Number(document.querySelector('#workers tr td:last-child')?.textContent) >= 5000",
      undefined,
      { timeout: 30_000 },
    );
    const rate = Number(await page.textContent('#rate'));
    const completed = Number(await page.textContent('#workers tr td:last-child'));
    expect(completed).to.equal(5000);
    expect(Number.isFinite(rate)).to.equal(true);
    // The throughput chart saw the run: its scale grew above zero.
    const scale = await page.textContent('#chart-rate text');
    expect(Number(scale?.replace('max ', ''))).to.be.greaterThan(0);
    await page.waitForTimeout(1200);
    await page.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).to.equal(true);
  });

  for (const token of ['dash', undefined]) {
    it(`lists failed tasks with their error and retries one (${token ? 'token' : 'no token'})`, async () => {
      const auth = token ? ['--token', token] : [];
      const server = await startServer([
        '--mode',
        'local',
        '--threads',
        '1',
        ...redisFlags(),
        ...auth,
      ]);
      const grid = new GridClient(server.url, token);
      const fn = await grid.register('function boom(n) { throw new RangeError("boom " + n) }');
      const id = await grid.submit(fn, [7]);
      expect((await grid.wait(id)).status).to.equal('FAILED');

      const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
      await page.goto(`${server.url}/${token ? `?token=${token}` : ''}`);
      const row = page.locator(`#failed tr[data-task="${id}"]`);
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator('.error').textContent()).to.equal('RangeError: boom 7');
      expect(await page.textContent('#failed-note')).to.equal('1');

      await row.locator('button').click();
      await page.waitForSelector(`#failed tr[data-task="${id}"][data-retried="QUEUED"]`, {
        timeout: 10_000,
      });
      // The retry was a second run of the same task, which failed as the first did.
      const task = await until(
        async () => (await grid.call<TaskReply>('GET', `/task/${id}`)).body,
        (t) => t.status === 'FAILED' && t.attempts === 2,
        15_000,
      );
      expect(task).to.include({ status: 'FAILED', attempts: 2 });
      await page.close();
    });
  }
});
