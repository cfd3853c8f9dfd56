/** The `taskgrid` command: flags, environment, clear errors, and the no-Redis fallback. */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { isLoopback, serverConfig } from '../cli/server-command.js';
import { ConfigError } from '../shared/errors.js';
import { GridClient } from './helpers/grid-client.js';
import { killAll, runCli, startServer, stop, waitForOutput } from './helpers/processes.js';
import { freePort } from './helpers/redis-server.js';
import { redisFlags } from './helpers/root-hooks.js';

describe('taskgrid CLI', () => {
  afterEach(killAll);

  describe('flag errors name the flag', () => {
    const cases: [string[], RegExp][] = [
      [['server', '--mode', 'turbo'], /--mode.*local.*push.*pull.*turbo/],
      [['server', '--port', 'http'], /--port.*integer.*http/],
      [['server', '--port', '70000'], /--port/],
      [['server', '--threads', '0'], /--threads.*at least 1|--threads.*from 1/],
      [['server', '--redis', 'localhost:6379'], /--redis.*redis:\/\//],
      [['server', '--store', 'disk'], /--store.*redis.*memory/],
      [
        ['server', '--store', 'memory', '--redis', 'redis://127.0.0.1:1'],
        /--redis and --store memory/,
      ],
      [['server', '--bogus'], /unknown option '--bogus'/],
      [['worker', '--url', 'http://x'], /--url.*ws:\/\//],
      [['worker', '--threads', 'many'], /--threads/],
    ];
    for (const [args, message] of cases) {
      it(`taskgrid ${args.join(' ')}`, async () => {
        const proc = runCli(args, { REDIS_URL: '' });
        const code = await proc.exited;
        expect(code).to.not.equal(0);
        expect(proc.output()).to.match(message);
      });
    }
  });

  it('prints help for each command', async () => {
    for (const command of ['server', 'worker']) {
      const proc = runCli([command, '--help']);
      expect(await proc.exited).to.equal(0);
      expect(proc.output()).to.match(/Usage: taskgrid/);
      expect(proc.output()).to.match(command === 'server' ? /--mode <mode>/ : /--url <ws-url>/);
    }
  });

  it('refuses a public address without a token, saying how to set one', async () => {
    const proc = runCli(['server', '--host', '0.0.0.0', '--store', 'memory', '--port', '0']);
    expect(await proc.exited).to.equal(2);
    expect(proc.output()).to.match(/TASKGRID_TOKEN|--token/);
  });

  it('reads PORT, REDIS_URL and TASKGRID_* from the environment', () => {
    const saved = { ...process.env };
    try {
      process.env.PORT = '8123';
      process.env.REDIS_URL = 'redis://127.0.0.1:7777';
      process.env.TASKGRID_MODE = 'pull';
      process.env.TASKGRID_THREADS = '3';
      const config = serverConfig({});
      expect(config).to.include({ port: 8123, mode: 'pull', threads: 3 });
      expect(config.store).to.include({
        kind: 'redis',
        url: 'redis://127.0.0.1:7777',
        required: true,
      });
      expect(() => serverConfig({ port: 'x' })).to.throw(ConfigError, /--port/);
    } finally {
      process.env = saved;
    }
  });

  it('maps --redis-cluster and --shards (and their variables) to the sharded store, and refuses odd ones naming the flag', () => {
    const saved = { ...process.env };
    try {
      process.env.REDIS_URL = 'redis://127.0.0.1:7777';
      process.env.TASKGRID_REDIS_CLUSTER = '10.0.0.1:7000, 10.0.0.2:7001';
      process.env.TASKGRID_SHARDS = '24';
      // REDIS_URL in the environment is for servers without a cluster: left out.
      expect(serverConfig({}).store).to.deep.equal({
        kind: 'redis-cluster',
        nodes: ['10.0.0.1:7000', '10.0.0.2:7001'],
        prefix: 'taskgrid:',
        shards: 24,
      });
      process.env = { ...saved };
      expect(serverConfig({ redisCluster: '[::1]:7000' }).store).to.include({ shards: 16 });
      const refused: [Record<string, string | boolean>, RegExp][] = [
        [{ shards: '4' }, /--shards needs --redis-cluster/],
        [{ redisCluster: 'nope' }, /Expected `--redis-cluster` to be cluster nodes as host:port/],
        [{ redisCluster: '10.0.0.1:7000,' }, /--redis-cluster/],
        [
          { redisCluster: '10.0.0.1:7000', shards: '0' },
          /`--shards` to be an integer from 1 to 1024/,
        ],
        [{ redisCluster: '10.0.0.1:7000', shards: '2000' }, /--shards/],
        [{ redisCluster: '10.0.0.1:7000', redis: 'redis://x' }, /--redis and --redis-cluster/],
        [
          { redisCluster: '10.0.0.1:7000', store: 'memory' },
          /--store memory cannot be used together/,
        ],
        [{ store: 'redis-cluster' }, /needs --redis-cluster/],
      ];
      for (const [flags, message] of refused) {
        expect(() => serverConfig(flags), JSON.stringify(flags)).to.throw(ConfigError, message);
      }
    } finally {
      process.env = saved;
    }
  });

  it('exits with a clear error when the cluster it was given does not answer', async () => {
    const port = await freePort();
    const proc = runCli(['server', '--port', '0', '--redis-cluster', `127.0.0.1:${port}`]);
    expect(await proc.exited).to.equal(2);
    expect(proc.output()).to.match(/Redis at cluster 127\.0\.0\.1:\d+ does not answer/);
  });

  it('knows loopback addresses', () => {
    expect(isLoopback('127.0.0.1')).to.equal(true);
    expect(isLoopback('::1')).to.equal(true);
    expect(isLoopback('localhost')).to.equal(true);
    expect(isLoopback('0.0.0.0')).to.equal(false);
  });

  it('falls back to the in-memory store, and says so, when no Redis answers and none was named', async () => {
    const port = await freePort();
    // Point the default at a port where nothing listens by giving it through the flag-less path.
    const server = await startServer([], {
      REDIS_URL: '',
      TASKGRID_DEFAULT_REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect(server.output()).to.match(
      /in-memory store: tasks and results will not survive a restart/,
    );
    expect(server.output()).to.match(/REDIS_URL|--redis/);
    const grid = new GridClient(server.url);
    const fn = await grid.register('n => n * 2');
    expect(await grid.value(await grid.submit(fn, [4]))).to.equal(8);
    expect(await stop(server)).to.equal(0);
  });

  it('exits with a clear error when the Redis it was given does not answer', async () => {
    const port = await freePort();
    const proc = runCli(['server', '--port', '0'], { REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(await proc.exited).to.equal(2);
    expect(proc.output()).to.match(/Redis at redis:\/\/127\.0\.0\.1:\d+ does not answer/);
  });

  it('submit runs the function a file exports and prints the result; status lists workers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskgrid-cli-'));
    const file = join(dir, 'fib.mjs');
    writeFileSync(
      file,
      'export default function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }\n',
    );
    const each = join(dir, 'each.json');
    writeFileSync(each, '[[10], [11], [12]]');
    const boom = join(dir, 'boom.mjs');
    writeFileSync(boom, 'export function boom() { throw new RangeError("nope") }\n');
    try {
      const server = await startServer(['--store', 'memory']);
      const one = runCli(['submit', file, '20', '--url', server.url]);
      expect(await one.exited).to.equal(0);
      expect(one.output().trim()).to.equal('6765');
      const many = runCli(['submit', file, '--each', each, '--url', server.url]);
      expect(await many.exited).to.equal(0);
      expect(JSON.parse(many.output().slice(many.output().indexOf('[')))).to.deep.equal([
        55, 89, 144,
      ]);
      const failing = runCli(['submit', boom, '--url', server.url]);
      expect(await failing.exited).to.equal(1);
      expect(failing.output()).to.match(/task failed: RangeError: nope/);
      const status = runCli(['status', '--url', server.url]);
      expect(await status.exited).to.equal(0);
      expect(status.output()).to.match(/mode local, store memory, queue depth 0/);
      expect(status.output()).to.match(/1 worker\(s\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves with Redis and exits 0 on SIGTERM', async () => {
    const server = await startServer([...redisFlags()]);
    await waitForOutput(server, /connected to redis/);
    const grid = new GridClient(server.url);
    expect((await grid.call('GET', '/healthz')).body).to.include({ store: 'redis' });
    expect(await stop(server)).to.equal(0);
  });
});
