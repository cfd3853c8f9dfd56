/** The tokens file (--tokens): what it accepts, and a clear startup error naming the flag for what it does not. */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { serverConfig } from '../cli/server-command.js';
import { resolveServerConfig } from '../server/server-config.js';
import { Tenants } from '../server/tenants.js';
import { ConfigError } from '../shared/errors.js';

describe('tokens file (--tokens)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskgrid-tokens-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  function file(text: string): string {
    const path = join(dir, `tokens-${n++}.json`);
    writeFileSync(path, text);
    return path;
  }

  /** The ConfigError message resolving `text` as a tokens file gives. */
  function refusal(text: string, token?: string): string {
    const tokensFile = file(text);
    try {
      resolveServerConfig({ tokensFile, ...(token ? { token } : {}) });
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).to.include('--tokens');
      expect(message).to.include(tokensFile);
      return message;
    }
    throw new Error(`accepted ${text}`);
  }

  it('reads clients, weights and workers; weight defaults to 1', () => {
    const config = resolveServerConfig({
      tokensFile: file(
        JSON.stringify([
          { token: 'alpha-token-1', tenant: 'alpha', weight: 3 },
          { token: 'alpha-token-2', tenant: 'alpha' },
          { token: 'beta-token-1', tenant: 'beta' },
          { token: 'worker-any-1', role: 'worker' },
          { token: 'worker-beta-1', role: 'worker', tenant: 'beta' },
        ]),
      ),
    });
    const tenants = new Tenants(config.token, config.tokens);
    expect(tenants.enabled).to.equal(true);
    expect(tenants.names).to.deep.equal(['alpha', 'beta', 'default']);
    expect(tenants.weightOf('alpha')).to.equal(3);
    expect(tenants.weightOf('beta')).to.equal(1);
    expect(tenants.weightOf(undefined)).to.equal(1);
    expect(tenants.authenticate('alpha-token-2')).to.deep.equal({
      client: true,
      worker: false,
      tenant: 'alpha',
    });
    expect(tenants.authenticate('worker-beta-1')).to.deep.equal({
      client: false,
      worker: true,
      tenant: 'beta',
    });
    expect(tenants.authenticate('worker-any-1')?.tenant).to.equal(undefined);
    expect(tenants.authenticate('nope-nope-nope')).to.equal(undefined);
    expect(tenants.authenticate(undefined)).to.equal(undefined);
  });

  it('works beside --token, which stays a client of `default` and a worker for all', () => {
    const config = resolveServerConfig({
      token: 'single-token',
      tokensFile: file('[{"token":"alpha-token-1","tenant":"alpha"}]'),
    });
    const tenants = new Tenants(config.token, config.tokens);
    expect(tenants.authenticate('single-token')).to.deep.equal({
      client: true,
      worker: true,
      tenant: undefined,
    });
    // A resolved config resolves again to the same (GridServer.start checks what it is given).
    expect(resolveServerConfig(config).tokens).to.deep.equal(config.tokens);
  });

  it('lets a public address listen with a tokens file, as with --token', () => {
    const tokensFile = file('[{"token":"alpha-token-1","tenant":"alpha"}]');
    expect(resolveServerConfig({ host: '0.0.0.0', tokensFile }).host).to.equal('0.0.0.0');
    expect(() => resolveServerConfig({ host: '0.0.0.0' })).to.throw(ConfigError);
  });

  it('refuses a file that is missing or not JSON', () => {
    try {
      resolveServerConfig({ tokensFile: join(dir, 'absent.json') });
      expect.fail('accepted a missing file');
    } catch (error) {
      expect((error as Error).message).to.match(/--tokens.*cannot read/);
    }
    expect(refusal('[{"token": "abc"')).to.include('not JSON');
  });

  it('refuses what is not an array of entries', () => {
    expect(refusal('{"token":"alpha-token-1"}')).to.include('JSON array');
    expect(refusal('[]')).to.include('lists no tokens');
    expect(refusal('["alpha-token-1"]')).to.match(/entry 1: expected an object/);
  });

  it('refuses a duplicate token, also the single --token again', () => {
    const text = JSON.stringify([
      { token: 'alpha-token-1', tenant: 'alpha' },
      { token: 'alpha-token-1', tenant: 'beta' },
    ]);
    expect(refusal(text)).to.match(/entry 2: the token of entry 1 again/);
    expect(refusal('[{"token":"single-token","tenant":"a"}]', 'single-token')).to.include(
      'also the single --token',
    );
  });

  it('refuses a client without a tenant, and a bad tenant name', () => {
    expect(refusal('[{"token":"alpha-token-1"}]')).to.include('needs a `tenant`');
    expect(refusal('[{"token":"alpha-token-1","tenant":""}]')).to.include('`tenant`');
    expect(refusal('[{"token":"alpha-token-1","tenant":"a b"}]')).to.include('`tenant`');
    expect(refusal('[{"token":"alpha-token-1","tenant":7}]')).to.include('`tenant`');
  });

  it('refuses a weight that is not a positive number, or that disagrees', () => {
    for (const weight of ['0', '-1', '"2"', 'null']) {
      const text = `[{"token":"alpha-token-1","tenant":"a","weight":${weight}}]`;
      expect(refusal(text), weight).to.include('`weight` to be a positive number');
    }
    const clash = JSON.stringify([
      { token: 'alpha-token-1', tenant: 'a', weight: 1 },
      { token: 'alpha-token-2', tenant: 'a', weight: 2 },
    ]);
    expect(refusal(clash)).to.include('has weight 2 here and 1 in entry 1');
  });

  it('refuses a short or missing token, a token with spaces, an unknown role or field', () => {
    expect(refusal('[{"token":"short","tenant":"a"}]')).to.include('too short');
    expect(refusal('[{"tenant":"a"}]')).to.include('`token` to be a string');
    expect(refusal('[{"token":"has a space","tenant":"a"}]')).to.include('whitespace');
    expect(refusal('[{"token":"alpha-token-1","role":"admin"}]')).to.include('`role`');
    expect(refusal('[{"token":"alpha-token-1","tenant":"a","colour":"red"}]')).to.include(
      'unknown field `colour`',
    );
    expect(refusal('[{"token":"worker-token-1","role":"worker","weight":2}]')).to.include(
      'weights are for client tenants',
    );
    expect(refusal('[{"token":"worker-token-1","role":"worker","tenant":"default"}]')).to.include(
      'leave `tenant` out',
    );
  });

  it('never prints a token in an error', () => {
    expect(
      refusal('[{"token":"secret-but-dup","tenant":"a"},{"token":"secret-but-dup","tenant":"b"}]'),
    ).not.to.include('secret-but-dup');
  });

  it('the CLI takes --tokens and TASKGRID_TOKENS_FILE', () => {
    const path = file('[{"token":"alpha-token-1","tenant":"alpha"}]');
    expect(serverConfig({ tokens: path, store: 'memory' }).tokens).to.have.length(1);
    const before = process.env.TASKGRID_TOKENS_FILE;
    process.env.TASKGRID_TOKENS_FILE = path;
    try {
      expect(serverConfig({ store: 'memory' }).tokens).to.have.length(1);
    } finally {
      if (before === undefined) delete process.env.TASKGRID_TOKENS_FILE;
      else process.env.TASKGRID_TOKENS_FILE = before;
    }
    expect(() => serverConfig({ tokens: file('nope'), store: 'memory' })).to.throw(
      ConfigError,
      /--tokens/,
    );
  });
});
