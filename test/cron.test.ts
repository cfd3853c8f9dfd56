/** Cron.parse takes what the API promises (5 fields, or 6 with seconds) and names what it refuses. */

import { expect } from 'chai';
import { Cron } from '../server/schedules/cron.js';
import { BadPayloadError } from '../shared/errors.js';

const JAN_1_2026 = Date.UTC(2026, 0, 1); // a Thursday

function refusal(cron: string, timezone?: string): string {
  try {
    Cron.parse(cron, timezone);
  } catch (error) {
    expect(error).to.be.instanceOf(BadPayloadError);
    return (error as Error).message;
  }
  throw new Error(`\`${cron}\` was accepted`);
}

describe('cron expressions', () => {
  it('reads five fields: minute hour day-of-month month day-of-week', () => {
    expect(Cron.parse('* * * * *').next(JAN_1_2026)).to.equal(JAN_1_2026 + 60_000);
    expect(Cron.parse('*/15 * * * *').next(JAN_1_2026 + 1)).to.equal(JAN_1_2026 + 15 * 60_000);
    expect(Cron.parse('30 9 * * MON-FRI').next(JAN_1_2026)).to.equal(Date.UTC(2026, 0, 1, 9, 30));
    expect(Cron.parse('0 0 1 FEB,MAR *').next(JAN_1_2026)).to.equal(Date.UTC(2026, 1, 1));
    expect(Cron.parse('0 12 * * SAT,SUN').next(JAN_1_2026)).to.equal(Date.UTC(2026, 0, 3, 12));
    expect(Cron.parse('5-10/5 0 * * *').next(JAN_1_2026)).to.equal(JAN_1_2026 + 5 * 60_000);
  });

  it('reads a sixth, leading seconds field', () => {
    expect(Cron.parse('*/2 * * * * *').next(JAN_1_2026)).to.equal(JAN_1_2026 + 2_000);
    expect(Cron.parse('* * * * * *').next(JAN_1_2026 + 500)).to.equal(JAN_1_2026 + 1_000);
  });

  it('reads the cron in the given IANA time zone', () => {
    // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    const paris = Cron.parse('0 9 * * *', 'Europe/Paris');
    expect(paris.next(JAN_1_2026)).to.equal(Date.UTC(2026, 0, 1, 8));
    expect(paris.next(Date.UTC(2026, 6, 1))).to.equal(Date.UTC(2026, 6, 1, 7));
    expect(Cron.parse('0 9 * * *', 'America/New_York').next(JAN_1_2026)).to.equal(
      Date.UTC(2026, 0, 1, 14),
    );
  });

  it('refuses other field counts, macros and hashed values, naming the problem', () => {
    expect(refusal('* * * *')).to.match(/5 fields/);
    expect(refusal('* * * * * * *')).to.match(/5 fields/);
    expect(refusal('@daily')).to.match(/5 fields/);
    expect(refusal('')).to.match(/5 fields/);
    expect(refusal('H * * * *')).to.match(/hashed/);
    expect(Cron.parse('0 0 * * THU').expression).to.equal('0 0 * * THU');
  });

  it('refuses values out of range and text that is not cron', () => {
    expect(refusal('61 * * * *')).to.match(/61 \* \* \* \*.*0-59/);
    expect(refusal('* 24 * * *')).to.match(/0-23/);
    expect(refusal('* * * * 8')).to.match(/0-7/);
    expect(refusal('*/0 * * * *')).to.match(/valid `cron`/);
    expect(refusal('a b c d e')).to.match(/valid `cron`/);
    expect(refusal('0 0 30 2 *')).to.match(/valid `cron`/);
    expect(refusal(`${'1,'.repeat(200)}1 * * * *`)).to.match(/at most 256/);
  });

  it('refuses a time zone that is not an IANA name', () => {
    expect(refusal('* * * * *', 'Nowhere/Atlantis')).to.match(/`timezone`.*Nowhere\/Atlantis/);
    expect(refusal('* * * * *', '')).to.match(/`timezone`/);
    expect(refusal('* * * * *', '+02:00')).to.match(/`timezone`/);
  });
});
