/**
 * A worker on another host: the server in the root network namespace, one
 * worker in a namespace of its own (its only way in a veth link, over TLS
 * with a token), one on the server's host. In push and in pull mode the
 * remote worker runs tasks; its link is cut mid-run (`ip link set … down`,
 * so no socket is told): the tasks it held are run by the other worker,
 * none is lost, and when the link returns the cut worker reconnects and
 * runs tasks again. Skipped, saying why, where namespaces cannot be made
 * (not root, no iproute2); CI runs as root.
 */

import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { TaskGrid } from '../client/task-grid.js';
import { makeSecondHost, netnsUnavailable, type SecondHost } from './helpers/netns.js';
import {
  CLI,
  killAll,
  runProcess,
  type ServerProcess,
  type Spawned,
  startServer,
  startWorker,
  waitForOutput,
} from './helpers/processes.js';
import { redisFlags } from './helpers/root-hooks.js';
import { makeTestPki, type TestPki } from './helpers/test-pki.js';
import { until } from './helpers/wait.js';

const TOKEN = 'remote-host-token';
/** Which worker ran a task: its process id (`ip netns exec` execs the worker, keeping the pid). */
const WHERE = async (n: number): Promise<[number, number]> => {
  await new Promise((r) => setTimeout(r, 150));
  return [n, process.pid];
};

describe('a worker on another host (network namespace, TLS, token)', function () {
  this.timeout(120_000);
  const unavailable = netnsUnavailable();
  let host: SecondHost | undefined;
  let pki: TestPki;

  before(function () {
    if (unavailable) {
      console.log(`      skipped: ${unavailable}`);
      this.skip();
    }
    host = makeSecondHost();
    pki = makeTestPki(['127.0.0.1', host.hostIp]);
  });
  after(async () => {
    await killAll();
    host?.remove();
    pki?.cleanup();
  });

  for (const mode of ['push', 'pull'] as const) {
    it(`${mode}: runs tasks there, hands a cut worker's tasks to another, and takes it back`, async () => {
      const second = host as SecondHost;
      second.restore();
      const server: ServerProcess = await startServer([
        ...redisFlags(),
        '--mode',
        mode,
        '--host',
        '0.0.0.0',
        '--token',
        TOKEN,
        '--tls-cert',
        pki.certFile,
        '--tls-key',
        pki.keyFile,
        '--heartbeat',
        '300',
      ]);
      const port = new URL(server.url).port;
      const remoteUrl = `wss://${second.hostIp}:${port}/ws`;
      const { file, args } = second.command([
        process.execPath,
        CLI,
        'worker',
        '--url',
        remoteUrl,
        '--ca',
        pki.caFile,
        '--token',
        TOKEN,
        '--threads',
        '2',
      ]);
      const remote: Spawned = runProcess(file, args);
      await waitForOutput(remote, /connected to server/);
      const local = await startWorker(`wss://127.0.0.1:${port}/ws`, [
        '--ca',
        pki.caFile,
        '--token',
        TOKEN,
        '--threads',
        '1',
      ]);
      const names = new Map([
        [remote.child.pid, 'remote'],
        [local.child.pid, 'local'],
      ]);
      const nameOf = (pid: number) => names.get(pid) ?? `unknown pid ${pid}`;
      const grid = new TaskGrid({
        url: `https://127.0.0.1:${port}`,
        token: TOKEN,
        ca: readFileSync(pki.caFile),
      });
      try {
        const where = await grid.register(WHERE);
        const first = await Promise.all(Array.from({ length: 40 }, (_, i) => where.submit([i])));
        // Cut the link while the remote worker holds tasks it has not finished.
        await until(
          async () =>
            (await grid.tasks({ status: 'COMPLETED', functionId: where.id })).tasks.length,
          (done) => done >= 4,
          30_000,
        );
        second.cut();
        const results = await Promise.all(first.map((h) => h.result()));
        expect(results.map(([n]) => n)).to.deep.equal(first.map((_, i) => i));
        const byWorker = new Map<string, number>();
        for (const [, pid] of results)
          byWorker.set(nameOf(pid), (byWorker.get(nameOf(pid)) ?? 0) + 1);
        expect(byWorker.get('remote') ?? 0, JSON.stringify([...byWorker])).to.be.greaterThan(0);
        expect(byWorker.get('local') ?? 0, JSON.stringify([...byWorker])).to.be.greaterThan(0);
        // Some task was running on the cut worker and ran again on the other one.
        const infos = await Promise.all(first.map((h) => h.info()));
        const moved = infos.filter(
          (info, i) => info.attempts > 1 && nameOf(results[i]?.[1] ?? 0) === 'local',
        );
        expect(moved.length, JSON.stringify(infos.map((t) => t.attempts))).to.be.greaterThan(0);

        // The link returns: the cut worker connects again and is given work.
        const connects = () => remote.output().match(/connected to server/g)?.length ?? 0;
        second.restore();
        await until(
          async () => connects(),
          (n) => n >= 2,
          40_000,
        );
        expect(connects(), remote.output()).to.be.at.least(2);
        const again = await Promise.all(Array.from({ length: 30 }, (_, i) => where.submit([i])));
        const after = await Promise.all(again.map((h) => h.result()));
        expect(
          after.some(([, pid]) => nameOf(pid) === 'remote'),
          JSON.stringify(after),
        ).to.equal(true);
      } finally {
        grid.close();
        await killAll();
      }
    });
  }
});
