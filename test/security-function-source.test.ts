/**
 * Defect 5: no function source, however hostile, stops the server serving
 * others. Each pathological 1 MiB payload is sent to a real server process
 * (so that a blocked server cannot block this test's own timers), and GET
 * /healthz must answer while it is in flight. Latencies printed are
 * measurements, never asserted.
 */

import { expect } from 'chai';
import { checkFunctionSource, trimSource } from '../server/function-source.js';
import { BadPayloadError } from '../shared/errors.js';
import { killAll, type ServerProcess, startServer } from './helpers/processes.js';

const LIMIT = 1024 * 1024;
const N = LIMIT - 64;

/** `unit` repeated to about n characters. */
const fill = (unit: string, n: number) => unit.repeat(Math.floor(n / unit.length));

/** [name, payload, accepted statuses]: every answer is a clear 201, 400 or 413, never a stall. */
const HOSTILE: [string, string, number[]][] = [
  ['semicolons then a letter', `${';'.repeat(N)}x`, [400]],
  ['a letter, semicolons, a letter', `x${';'.repeat(N)} x`, [400]],
  ['only semicolons', ';'.repeat(N), [400]],
  ['semicolons and spaces', fill('; ', N), [400]],
  ['a long run of whitespace', `() => ${' '.repeat(N)}1`, [201]],
  ['a long run of newlines', `() => ${'\n'.repeat(N)}1`, [201]],
  ['deeply nested parentheses', `() => ${'('.repeat(N / 2)}1${')'.repeat(N / 2)}`, [400]],
  ['deeply nested arrays', `() => ${'['.repeat(N / 2)}${']'.repeat(N / 2)}`, [400]],
  ['deeply nested arrows', `${fill('a=>', N)}1`, [400]],
  ['a dense member chain (valid, slow to parse)', `() => a${fill('.b', N)}`, [201]],
  ['a dense index chain (valid, slow to parse)', `() => a${fill('[0]', N)}`, [201]],
  ['one byte over the limit', `() => "${'x'.repeat(LIMIT)}"`, [413]],
];

async function register(url: string, payload: string): Promise<number> {
  const res = await fetch(`${url}/register_function`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'hostile', payload }),
  });
  await res.text();
  return res.status;
}

describe('security: hostile function sources (defect 5)', function () {
  // On the old code the first case alone blocked the server for minutes: the test times out.
  this.timeout(20_000);
  let server: ServerProcess;
  before(async () => {
    server = await startServer(['--store', 'memory']);
  });
  after(killAll);

  for (const [name, payload, statuses] of HOSTILE) {
    it(`answers ${name} (${(payload.length / 1024).toFixed(0)} KiB) with ${statuses.join('/')} while /healthz answers`, async () => {
      const start = performance.now();
      const registering = register(server.url, payload);
      const healthStart = performance.now();
      const health = await fetch(`${server.url}/healthz`);
      await health.text();
      const healthMs = performance.now() - healthStart;
      const status = await registering;
      console.log(
        `      register ${status} in ${Math.round(performance.now() - start)} ms; /healthz meanwhile ${Math.round(healthMs)} ms`,
      );
      expect(health.status).to.equal(200);
      expect(statuses).to.include(status);
    });
  }

  it('keeps answering /healthz while four slow-to-parse sources are checked at once', async () => {
    const payload = `() => a${fill('[0]', N)}`;
    const all = Promise.all([1, 2, 3, 4].map(() => register(server.url, payload)));
    let done = false;
    void all.finally(() => {
      done = true;
    });
    let worst = 0;
    let polls = 0;
    while (!done) {
      const t = performance.now();
      const res = await fetch(`${server.url}/healthz`);
      await res.text();
      expect(res.status).to.equal(200);
      worst = Math.max(worst, performance.now() - t);
      polls++;
    }
    console.log(
      `      ${polls} /healthz answered meanwhile, the slowest in ${Math.round(worst)} ms`,
    );
    expect(await all).to.deep.equal([201, 201, 201, 201]);
  });

  describe('trimSource', () => {
    it('drops whitespace and trailing semicolons in any mix, in one pass', () => {
      expect(trimSource('  n => n ;; ; \n')).to.equal('n => n');
      expect(trimSource('\u00a0\ufeffn => n;\u2028')).to.equal('n => n');
      expect(trimSource(';;;')).to.equal('');
      expect(trimSource('n => ";"')).to.equal('n => ";"');
    });

    it('a 1 MiB run of semicolons before a letter is an ordinary syntax error', () => {
      expect(() => checkFunctionSource(`${';'.repeat(N)}x`)).to.throw(BadPayloadError);
    });
  });
});
