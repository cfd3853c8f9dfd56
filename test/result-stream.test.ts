/**
 * The SDK's result socket against a misbehaving server: a frame it cannot
 * read must not throw inside ws's listener (an uncaught exception in the
 * user's process); the socket is dropped and the pending task resubscribed.
 */

import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { ResultStream } from '../client/result-stream.js';

describe('ResultStream against a server sending bad frames', () => {
  let wss: WebSocketServer;
  const uncaught: Error[] = [];
  const onUncaught = (error: Error) => uncaught.push(error);

  beforeEach(() => {
    process.on('uncaughtException', onUncaught);
  });
  afterEach(async () => {
    process.off('uncaughtException', onUncaught);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it('drops the socket, resubscribes, and resolves from the next good frame', async () => {
    const frames = ['not json {', JSON.stringify({ type: 'result', task_id: 7 })];
    let connections = 0;
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws/client' });
    wss.on('connection', (ws) => {
      connections++;
      ws.on('message', (data) => {
        const { ids } = JSON.parse(String(data)) as { ids: string[] };
        const bad = frames.shift();
        if (bad !== undefined) {
          ws.send(bad);
          return;
        }
        ws.send(
          JSON.stringify({ type: 'result', task_id: ids[0], status: 'COMPLETED', result: '42' }),
        );
      });
    });
    await new Promise((resolve) => wss.once('listening', resolve));
    const { port } = wss.address() as AddressInfo;
    const stream = new ResultStream(`http://127.0.0.1:${port}`, undefined);
    try {
      const message = await stream.wait('task-1');
      expect(message).to.deep.equal({
        type: 'result',
        task_id: 'task-1',
        status: 'COMPLETED',
        result: '42',
      });
      expect(connections).to.equal(3);
      expect(uncaught).to.deep.equal([]);
    } finally {
      stream.close();
    }
  });
});
