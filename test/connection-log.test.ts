/** Worker connects in the server log: one line each while few, then counted (a reconnect storm). */

import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { ConnectionLog } from '../server/gateway/connection-log.js';

function capture(): { lines: Record<string, unknown>[]; log: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ConnectionLog', () => {
  it('logs a few connects one by one', async () => {
    const { lines, log } = capture();
    const connections = new ConnectionLog(log);
    connections.connected({ worker: 'a' });
    connections.disconnected({ worker: 'a', code: 1006 });
    connections.flush();
    await settle();
    expect(lines.map((l) => [l.msg, l.worker])).to.deep.equal([
      ['worker connected', 'a'],
      ['worker disconnected', 'a'],
    ]);
  });

  it('past 20 lines in a second counts the rest and logs the counts once', async () => {
    const { lines, log } = capture();
    let clock = 1_000_000;
    const connections = new ConnectionLog(log, () => clock);
    for (let i = 0; i < 1000; i++) connections.connected({ worker: `w${i}` });
    for (let i = 0; i < 10; i++) connections.disconnected({ worker: `w${i}` });
    connections.flush();
    connections.flush();
    // A new second has a new budget.
    clock += 1000;
    connections.connected({ worker: 'late' });
    await settle();
    expect(lines.map((l) => l.msg)).to.deep.equal([
      ...Array(20).fill('worker connected'),
      'workers connected and disconnected (too many to log one by one)',
      'worker connected',
    ]);
    expect(lines[20]).to.include({ connected: 980, disconnected: 10 });
    expect(lines[21]).to.include({ worker: 'late' });
  });
});
