/** Debian's headless Chromium, driven by playwright-core, for the browser suites. */

import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Launches Chromium; skips the suite when it is missing on a developer
 * machine, and fails in CI, which installs it (.ci/run) and must run it.
 */
export async function launchChromium(suite: Mocha.Context): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI)
      throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install chromium`);
    suite.skip();
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
