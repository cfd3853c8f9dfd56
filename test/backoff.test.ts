/** Reconnect backoff: doubling steps, a cap, and jitter within the upper half of each step. */

import { expect } from 'chai';
import { backoffDelay } from '../shared/backoff.js';

const policy = { baseMs: 100, maxMs: 10_000 };
const lowest = () => 0;
const highest = () => 1;

describe('backoffDelay', () => {
  it('doubles its step from the base, up to the cap', () => {
    const steps = [0, 1, 2, 3, 6, 7, 20].map((r) => backoffDelay(r, policy, highest));
    expect(steps).to.deep.equal([100, 200, 400, 800, 6400, 10_000, 10_000]);
  });

  it('jitters within the upper half of each step', () => {
    expect(backoffDelay(0, policy, lowest)).to.equal(50);
    expect(backoffDelay(3, policy, lowest)).to.equal(400);
    expect(backoffDelay(3, policy, () => 0.5)).to.equal(600);
    expect(backoffDelay(50, policy, lowest)).to.equal(5000);
  });

  it('stays finite and capped for any retry count', () => {
    for (const retries of [0, 31, 1024, Number.MAX_SAFE_INTEGER]) {
      const delay = backoffDelay(retries, policy);
      expect(delay, `retries ${retries}`).to.be.within(50, 10_000);
    }
  });
});
