/**
 * TLS: `taskgrid server --tls-cert --tls-key` serves https and wss on one
 * port; a worker (`--ca`) and the SDK (`ca`) that trust the private CA run
 * tasks over it with a token; one given the wrong CA, or none, is refused
 * with a message that says what to do; a token is never sent in clear to
 * another host unless told to; bad certificate flags name the flag.
 */

import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { TlsRefusedError } from '../client/http-transport.js';
import { TaskGrid } from '../client/task-grid.js';
import { ConfigError } from '../shared/errors.js';
import { resolveWorkerOptions } from '../worker/worker-options.js';
import {
  killAll,
  runCli,
  type ServerProcess,
  startServer,
  startWorker,
} from './helpers/processes.js';
import { makeTestPki, type TestPki } from './helpers/test-pki.js';

const TOKEN = 'tls-test-token';
const log = { debug() {}, info() {}, warn() {}, error() {} };

describe('TLS: https and wss on one port, a private CA, and no token in clear', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let server: ServerProcess;

  before(async () => {
    pki = makeTestPki();
    server = await startServer([
      '--store',
      'memory',
      '--mode',
      'push',
      '--token',
      TOKEN,
      '--tls-cert',
      pki.certFile,
      '--tls-key',
      pki.keyFile,
    ]);
  });
  after(async () => {
    await killAll();
    pki.cleanup();
  });

  it('serves https and wss: a worker with --ca and the SDK with `ca` run tasks', async () => {
    expect(server.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.wsUrl).to.match(/^wss:\/\//);
    await startWorker(server.wsUrl, ['--threads', '1', '--ca', pki.caFile, '--token', TOKEN]);
    const grid = new TaskGrid({ url: server.url, token: TOKEN, ca: readFileSync(pki.caFile) });
    try {
      const square = await grid.register((n: number) => n * n);
      // fn(x) submits and waits on the wss client socket; submit() goes by https REST.
      expect(await square(12)).to.equal(144);
      const handle = await square.submit([5]);
      expect(await handle.result()).to.equal(25);
      expect((await handle.info()).status).to.equal('COMPLETED');
    } finally {
      grid.close();
    }
  });

  it('a worker given the wrong CA, or none, exits 2 saying the certificate is not trusted', async () => {
    for (const extra of [['--ca', pki.otherCaFile], []]) {
      const worker = runCli(['worker', '--url', server.wsUrl, '--token', TOKEN, ...extra]);
      expect(await worker.exited, worker.output()).to.equal(2);
      expect(worker.output()).to.include('is not signed by a CA this process trusts');
      expect(worker.output()).to.include('--ca FILE');
    }
  });

  it('the SDK given the wrong CA rejects with TlsRefusedError, not a retried "fetch failed"', async () => {
    const grid = new TaskGrid({ url: server.url, token: TOKEN, ca: readFileSync(pki.otherCaFile) });
    try {
      const error = await grid.functions().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(TlsRefusedError);
      expect((error as Error).message).to.include('is not signed by a CA this process trusts');
    } finally {
      grid.close();
    }
  });

  it('the CLI client commands take --ca', async () => {
    const list = runCli(['functions', '--url', server.url, '--token', TOKEN, '--ca', pki.caFile]);
    expect(await list.exited, list.output()).to.equal(0);
    const refused = runCli(['functions', '--url', server.url, '--token', TOKEN]);
    expect(await refused.exited).to.not.equal(0);
    expect(refused.output()).to.include('is not signed by a CA this process trusts');
  });

  it('plain http on the TLS port gets no answer a client could mistake for the API', async () => {
    const plain = server.url.replace(/^https/, 'http');
    const outcome = await fetch(`${plain}/healthz`).then(
      (res) => res.status,
      () => 'failed',
    );
    expect(outcome).to.not.equal(200);
  });
});

describe('a token is never sent in clear to another host', () => {
  it('the worker refuses ws:// to a non-loopback host with a token, unless `insecure`', () => {
    const options = { url: 'ws://10.99.0.1:8000/ws', token: 'x', log };
    expect(() => resolveWorkerOptions(options)).to.throw(ConfigError, /wss:\/\/.*insecure/);
    expect(() => resolveWorkerOptions({ ...options, insecure: true })).to.not.throw();
    // Loopback never leaves the machine; no token, nothing to leak; wss is encrypted.
    expect(() =>
      resolveWorkerOptions({ ...options, url: 'ws://127.0.0.1:8000/ws' }),
    ).to.not.throw();
    expect(() => resolveWorkerOptions({ url: options.url, log })).to.not.throw();
    expect(() =>
      resolveWorkerOptions({ ...options, url: 'wss://10.99.0.1:8000/ws' }),
    ).to.not.throw();
  });

  it('the SDK refuses http:// to a non-loopback host with a token, unless `insecure`', () => {
    expect(() => new TaskGrid({ url: 'http://10.99.0.1:8000', token: 'x' })).to.throw(
      ConfigError,
      /https:\/\/.*insecure/,
    );
    new TaskGrid({ url: 'http://10.99.0.1:8000', token: 'x', insecure: true }).close();
    new TaskGrid({ url: 'https://10.99.0.1:8000', token: 'x' }).close();
    new TaskGrid({ url: 'http://localhost:8000', token: 'x' }).close();
  });

  it('the CLI worker and client commands say which flag, before connecting', async () => {
    const worker = runCli(['worker', '--url', 'ws://10.99.0.1:9/ws', '--token', 'x']);
    expect(await worker.exited).to.not.equal(0);
    expect(worker.output()).to.match(/`--url` to be a wss:\/\/ URL.*--insecure/);
    const tasks = runCli(['tasks', '--url', 'http://10.99.0.1:9', '--token', 'x']);
    expect(await tasks.exited).to.not.equal(0);
    expect(tasks.output()).to.match(/`--url` to be a https:\/\/ URL.*--insecure/);
  });
});

describe('server TLS flags', function () {
  this.timeout(30_000);
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(async () => {
    await killAll();
    pki.cleanup();
  });

  async function refusal(args: string[]): Promise<string> {
    const server = runCli(['server', '--store', 'memory', '--port', '0', ...args]);
    expect(await server.exited, server.output()).to.not.equal(0);
    return server.output();
  }

  it('needs both --tls-cert and --tls-key, names the one missing', async () => {
    expect(await refusal(['--tls-cert', pki.certFile])).to.include('`--tls-key`');
    expect(await refusal(['--tls-key', pki.keyFile])).to.include('`--tls-cert`');
  });

  it('names the flag of a file it cannot read or that holds no PEM', async () => {
    const missing = await refusal([
      '--tls-cert',
      '/nonexistent/cert.pem',
      '--tls-key',
      pki.keyFile,
    ]);
    expect(missing).to.include('`--tls-cert`').and.to.include('ENOENT');
    const notPem = await refusal(['--tls-cert', pki.certFile, '--tls-key', '/etc/hostname']);
    expect(notPem).to.include('`--tls-key`');
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const text = await refusal(['--tls-cert', pki.certFile, '--tls-key', pki.strayKeyFile]);
    expect(text).to.include('do not form a usable pair');
  });
});
