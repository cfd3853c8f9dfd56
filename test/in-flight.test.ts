/** The in-flight ledger: fencing by attempt and the server's own deadlines. */

import { expect } from 'chai';
import { InFlight } from '../server/dispatch/in-flight.js';
import type { TaskAssignment } from '../shared/types.js';

const task = (id: string, attempt = 1, timeout_ms = 1000): TaskAssignment => ({
  id,
  fn: 'f',
  args: '[]',
  attempt,
  timeout_ms,
});

describe('InFlight ledger', () => {
  it('settles only the attempt it holds', () => {
    const ledger = new InFlight(1, 0);
    ledger.add([task('a', 1)]);
    expect(ledger.settle('a', 2)).to.equal(false);
    expect(ledger.settle('a', 1)).to.equal(true);
    expect(ledger.settle('a', 1)).to.equal(false);
    expect(ledger.size).to.equal(0);
  });

  it('a newer attempt of the same task replaces the older one, which is returned', () => {
    const ledger = new InFlight(1, 0);
    ledger.add([task('a', 1)]);
    const replaced = ledger.add([task('a', 2)]);
    expect(replaced.map((h) => h.attempt)).to.deep.equal([1]);
    expect(ledger.settle('a', 1)).to.equal(false);
    expect(ledger.leases()).to.deep.equal([{ id: 'a', attempt: 2 }]);
  });

  it("sets each deadline from the task's timeout, its wait behind earlier tasks, and the grace", () => {
    const ledger = new InFlight(2, 500);
    ledger.add([task('a', 1, 1000), task('b', 1, 3000), task('c', 1, 1000)], 0);
    // a and b start at once on two threads; c waits behind up to the longest of them.
    expect(ledger.get('a')?.deadline).to.equal(1500);
    expect(ledger.get('b')?.deadline).to.equal(3500);
    expect(ledger.get('c')?.deadline).to.equal(3000 + 1000 + 500);
  });

  it('takes overdue tasks out, and only those', () => {
    const ledger = new InFlight(4, 0);
    ledger.add([task('a', 1, 100), task('b', 1, 10_000)], 0);
    expect(ledger.takeOverdue(50)).to.deep.equal([]);
    expect(ledger.takeOverdue(100).map((h) => h.id)).to.deep.equal(['a']);
    expect([...ledger.ids()]).to.deep.equal(['b']);
  });

  it('removes by id whatever the attempt, and hands everything back on takeAll', () => {
    const ledger = new InFlight(1, 0);
    ledger.add([task('a', 3), task('b', 1), task('c', 2)]);
    expect(ledger.remove(['a', 'zzz']).map((h) => h.id)).to.deep.equal(['a']);
    expect(ledger.takeAll()).to.deep.equal([
      { id: 'b', attempt: 1 },
      { id: 'c', attempt: 2 },
    ]);
    expect(ledger.size).to.equal(0);
  });
});
