/**
 * Every option of GridServer.start and new TaskgridWorker is checked by the
 * API itself: a wrong value throws a ConfigError that names the option, a
 * right one is taken (as piscina's option-validation test does).
 */

import { expect } from 'chai';
import { pino } from 'pino';
import { GridServer } from '../server/grid-server.js';
import { resolveServerConfig, type ServerOptions } from '../server/server-config.js';
import { ConfigError } from '../shared/errors.js';
import { TaskgridWorker } from '../worker/worker-client.js';
import { resolveWorkerOptions, type WorkerOptions } from '../worker/worker-options.js';

const quiet = pino({ level: 'silent' });

/** [option (dotted when nested), wrong values, a right value other than the default] */
type Case = [string, unknown[], unknown];

const SERVER_CASES: Case[] = [
  ['mode', ['turbo', 1, null], 'pull'],
  ['host', ['', 42], 'localhost'],
  ['port', [-1, 65_536, '8000', 1.5, Number.NaN], 0],
  ['threads', [0, 1025, '2'], 3],
  ['prefetch', [0, 10_001], 5],
  ['token', ['', 7], 'secret'],
  ['insecure', ['yes', 1], true],
  ['taskTimeoutMs', [0, -5], 10],
  ['maxAttempts', [0, 1001], 7],
  ['leaseMs', [99], 100],
  ['heartbeatMs', [9], 10],
  ['heartbeatTolerance', [0, 101], 100],
  ['resultTtlSeconds', [-1], 60],
  ['idempotencyTtlSeconds', [0], 1],
  ['deadlineGraceMs', [-1], 0],
  ['threadMemoryMb', [0], 64],
  ['outcomeBuffer', [0], 10],
  ['outcomeBufferBytes', [0], 1024],
  ['functionCacheBytes', [-1, 'big'], 0],
  ['keepAliveTimeoutMs', [-1], 0],
  ['limits.bodyBytes', [0], 1024],
  ['limits.functionBytes', [0], 1024],
  ['limits.argsBytes', [0], 1024],
  ['limits.batchLength', [0], 5],
  ['limits.resultBytes', [0], 1000],
  ['limits.frameBytes', [0], 4096],
  ['limits.parkedPolls', [-1], 0],
  ['limits.helloBytes', [0], 1024],
  ['limits.connections', [0], 3],
  ['limits.connectionsPerIp', [0], 2],
  ['store.kind', ['disk', undefined], 'memory'],
  ['store.url', ['localhost:6379', 'http://x', 5], 'rediss://cache.example:6380'],
  ['store.prefix', ['', 3], 'app:'],
  ['store.required', ['no'], true],
];

const WORKER_CASES: Case[] = [
  ['url', ['http://x', 'nope', 5, undefined], 'wss://grid.example/ws'],
  ['threads', [0, 1025, 'many'], 2],
  ['token', ['', 1], 'secret'],
  ['prefetch', [0, 10_001], 4],
  ['maxResultBytes', [0], 1000],
  ['maxFrameBytes', [0], 4096],
  ['threadMemoryMb', [0], 64],
  ['drainTimeoutMs', [-1], 0],
  ['sandbox', ['yes'], true],
  ['log', [{}, 'console'], quiet],
];

/** `{a: {b: value}}` for `a.b`, on top of `base`. */
function withOption(base: Record<string, unknown>, path: string, value: unknown) {
  const [head = '', inner] = path.split('.');
  if (inner === undefined) return { ...base, [head]: value };
  const nested = head === 'store' ? { kind: 'redis' } : {};
  return { ...base, [head]: { ...nested, [inner]: value } };
}

function read(config: object, path: string): unknown {
  return path.split('.').reduce<unknown>((at, key) => Reflect.get(Object(at), key), config);
}

/** Deliberately wrong types: what a JavaScript caller may pass. */
function serverOptions(options: Record<string, unknown>): ServerOptions {
  return options as ServerOptions;
}
function workerOptions(options: Record<string, unknown>): WorkerOptions {
  return options as unknown as WorkerOptions;
}

describe('option validation', () => {
  describe('GridServer.start', () => {
    for (const [option, wrong, right] of SERVER_CASES) {
      for (const value of wrong) {
        it(`rejects ${option}: ${String(value)}`, async () => {
          const options = serverOptions(withOption({}, option, value));
          const error = await GridServer.start(options, { log: quiet }).then(
            () => expect.fail('started'),
            (e: unknown) => e,
          );
          expect(error).to.be.instanceOf(ConfigError);
          expect((error as Error).message).to.include(`\`${option}\``);
        });
      }
      it(`takes ${option}: ${String(right)}`, () => {
        const config = resolveServerConfig(withOption({}, option, right));
        expect(read(config, option)).to.equal(right);
      });
    }

    it('names a misspelt option', async () => {
      const error = await GridServer.start(serverOptions({ treads: 2 })).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as Error).message).to.include('`treads`');
    });

    it('refuses a public address without a token, unless insecure', () => {
      expect(() => resolveServerConfig({ host: '0.0.0.0' })).to.throw(ConfigError, /token/);
      expect(resolveServerConfig({ host: '0.0.0.0', token: 't' }).host).to.equal('0.0.0.0');
      expect(resolveServerConfig({ host: '0.0.0.0', insecure: true }).insecure).to.equal(true);
    });

    it('starts with right values and reports them in its config', async () => {
      const server = await GridServer.start(
        {
          mode: 'push',
          port: 0,
          store: { kind: 'memory' },
          prefetch: 3,
          limits: { batchLength: 5 },
        },
        { log: quiet },
      );
      try {
        expect(server.config).to.include({ mode: 'push', prefetch: 3 });
        expect(server.config.limits.batchLength).to.equal(5);
        expect(server.config.limits.frameBytes).to.be.greaterThan(0);
      } finally {
        await server.close();
      }
    });
  });

  describe('new TaskgridWorker', () => {
    const base = { url: 'ws://127.0.0.1:1/ws', log: quiet };
    for (const [option, wrong, right] of WORKER_CASES) {
      for (const value of wrong) {
        it(`rejects ${option}: ${String(value)}`, () => {
          const options = workerOptions(withOption(base, option, value));
          expect(() => new TaskgridWorker(options))
            .to.throw(ConfigError)
            .with.property('message')
            .that.includes(`\`${option}\``);
        });
      }
      it(`takes ${option}: ${String(right)}`, () => {
        expect(read(resolveWorkerOptions(withOption(base, option, right)), option)).to.equal(right);
      });
    }

    it('names a misspelt option', () => {
      expect(() => new TaskgridWorker(workerOptions({ ...base, treads: 2 }))).to.throw(
        ConfigError,
        /`treads`/,
      );
    });

    it('is built with right values', async () => {
      const worker = new TaskgridWorker({ ...base, threads: 1, prefetch: 3 });
      expect(worker.threads).to.equal(1);
      await worker.close();
    });
  });
});
