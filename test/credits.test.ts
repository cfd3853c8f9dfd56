/** How many tasks a worker holds, and the run-time average that sizes it. */

import { expect } from 'chai';
import { creditsFor, maxCredits, RunTimeAverage } from '../shared/credits.js';

describe('credits', () => {
  it('a new worker starts at prefetch per thread', () => {
    const average = new RunTimeAverage();
    expect(creditsFor(4, 2, average.value)).to.equal(8);
  });

  it('cheap tasks earn about 20 ms of work per thread, never more than the cap', () => {
    expect(creditsFor(2, 2, 1)).to.equal(40);
    expect(creditsFor(2, 2, 0.001)).to.equal(maxCredits(2));
    expect(creditsFor(2, 2, 5000)).to.equal(4);
  });

  it('is the mean run time per task, so many cheap batches cannot hide slow tasks', () => {
    const average = new RunTimeAverage();
    const now = 1_000_000;
    // A mixed stream: 50 batches of one 0.01 ms no-op, and one 3 s task among them.
    for (let i = 0; i < 50; i++) average.add([{ run_ms: 0.01 }], now + i);
    average.add([{ run_ms: 3000 }], now + 50);
    // The true mean is about 59 ms; an average of batch means would say well under 1 ms.
    expect(average.value).to.be.within(50, 70);
    expect(creditsFor(2, 2, average.value)).to.equal(4);
  });

  it('lets old run times fade', () => {
    const average = new RunTimeAverage();
    average.add([{ run_ms: 1000 }], 0);
    average.add([{ run_ms: 1 }], 10_000);
    expect(average.value).to.be.below(2);
  });
});
