/**
 * The short seeded chaos run (see test/chaos/ and README "Chaos run"): 25 s
 * of mixed tasks against two servers, four workers and an append-only
 * Redis while every kind of fault is dealt once, then every invariant is
 * checked. Seed 211 deals all ten fault kinds. Replay it (with the full
 * history printed) by `npm run chaos -- --preset test --seed 211`.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { testConfig } from './chaos/chaos-config.js';
import { runChaos } from './chaos/chaos-run.js';

const SEED = 211;

describe('chaos: a short seeded run under every kind of fault', function () {
  this.timeout(180_000);

  it(`seed ${SEED}: no acknowledged task stuck, lost, wrong, changed or unheard; no 503 that ran`, async () => {
    const log: string[] = [];
    const config = testConfig(SEED, (line) => log.push(line));
    config.historyPath = join(tmpdir(), `taskgrid-chaos-test-${SEED}.jsonl`);
    const result = await runChaos(config, `npm run chaos -- --preset test --seed ${SEED}`);
    expect(result.summary.accepted, 'the load was accepted').to.be.greaterThan(20);
    const report = `\n${log.join('\n')}\n\n${result.table}\n\n${result.violations}`;
    expect(result.summary.violations.length, report).to.equal(0);
  });
});
