/**
 * REDIS_URL as a production Redis takes it: `rediss://` (TLS, the CA given
 * to Node with NODE_EXTRA_CA_CERTS) and an ACL user with a password. The
 * password never appears in what the server prints, connected or refused.
 */

import { expect } from 'chai';
import { GridClient } from './helpers/grid-client.js';
import { killAll, runCli, startServer } from './helpers/processes.js';
import { freePort, TestRedis } from './helpers/redis-server.js';
import { makeTestPki, type TestPki } from './helpers/test-pki.js';

const PASSWORD = 'acl-pass-4d1e';

describe('Redis over TLS with an ACL user (rediss://user:password@…)', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let redis: TestRedis;
  let tlsPort: number;

  before(async function () {
    pki = makeTestPki();
    tlsPort = await freePort();
    try {
      redis = await TestRedis.start([
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        pki.certFile,
        '--tls-key-file',
        pki.keyFile,
        '--tls-ca-cert-file',
        pki.caFile,
        '--tls-auth-clients',
        'no',
        // One config line, given as its words: keys and channels under the default prefix only.
        '--user',
        'grid',
        'on',
        `>${PASSWORD}`,
        '~taskgrid:*',
        '&taskgrid:*',
        '+@all',
      ]);
    } catch (error) {
      // Debian's and Redis's own builds have TLS; a build without it refuses --tls-port.
      console.log(
        `      skipped: redis-server did not start with TLS (${(error as Error).message})`,
      );
      this.skip();
    }
  });
  after(async () => {
    await killAll();
    await redis?.destroy();
    pki?.cleanup();
  });

  it('runs tasks on it, and prints the URL without the password', async () => {
    const url = `rediss://grid:${PASSWORD}@127.0.0.1:${tlsPort}`;
    const server = await startServer(['--redis', url], { NODE_EXTRA_CA_CERTS: pki.caFile });
    const client = new GridClient(server.url);
    const fn = await client.register('(n) => n * n');
    const task = await client.submit(fn, [9]);
    expect(await client.wait(task)).to.include({ status: 'COMPLETED' });
    expect(await client.value(task)).to.equal(81);
    expect(server.output()).to.include('store redis').and.to.include('grid:***@');
    expect(server.output()).to.not.include(PASSWORD);
  });

  it('a wrong password or an untrusted certificate exits with an error that hides the password', async () => {
    const wrong = runCli(
      ['server', '--port', '0', '--redis', `rediss://grid:not-${PASSWORD}@127.0.0.1:${tlsPort}`],
      {
        NODE_EXTRA_CA_CERTS: pki.caFile,
      },
    );
    expect(await wrong.exited).to.not.equal(0);
    const untrusted = runCli([
      'server',
      '--port',
      '0',
      '--redis',
      `rediss://grid:${PASSWORD}@127.0.0.1:${tlsPort}`,
    ]);
    expect(await untrusted.exited).to.not.equal(0);
    for (const run of [wrong, untrusted]) {
      expect(run.output()).to.include('does not answer');
      expect(run.output()).to.not.include(PASSWORD);
    }
  });
});
