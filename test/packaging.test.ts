/**
 * What a deploy gets: `npm pack` (its `prepack` builds lib/ from
 * tsconfig.build.json), then `npm install --omit=dev` of the tarball into an
 * empty folder, offline, from the tarball and the npm cache. The installed
 * `taskgrid` bin then runs `--help`, a push-mode server on this run's Redis,
 * a worker and `submit` end to end, with no devDependency present.
 *
 * Offline: `npm ci` fills the cache with the locked tarballs but not with the
 * registry's version lists, so the empty folder gets a package-lock.json made
 * from ours (the `dependencies` tree, devDependencies left out), and npm
 * installs exactly the versions the rest of the suite ran with.
 *
 * A checkout deployed as is (`npm ci`, then `npm ci --omit=dev`) must run the
 * bin too: `prepare` builds lib/ there, and the pruned install keeps it.
 */

import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { killAll, runProcess, type Spawned, stop, waitForOutput } from './helpers/processes.js';
import { ROOT } from './helpers/product-files.js';
import { redisFlags } from './helpers/root-hooks.js';

const execFileAsync = promisify(execFile);

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}
interface Manifest {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/**
 * npm without the variables an outer `npm test` sets for its own script (its
 * package, its prefix): the inner npm must see only the folder it runs in.
 * User configuration (npm_config_cache, npm_config_userconfig) is kept.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('npm_') || key === 'npm_config_cache' || key === 'npm_config_userconfig') {
      env[key] = value;
    }
  }
  delete env.INIT_CWD;
  return env;
}

async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync('npm', args, {
      cwd,
      env: npmEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** What the process writes to stdout alone (its output() mixes in stderr). */
function stdoutOf(proc: Spawned): () => string {
  let text = '';
  proc.child.stdout?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return () => text;
}

/** package.json and package-lock.json of an app that depends on the tarball alone. */
function writeApp(app: string, tarball: string, manifest: Manifest): void {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:../${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'pack-check', version: '1.0.0', dependencies: { taskgrid: spec } },
    'node_modules/taskgrid': {
      version: manifest.version,
      resolved: spec,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.startsWith('node_modules/') && !entry.dev) packages[path] = entry;
  }
  const pkg = { name: 'pack-check', version: '1.0.0', private: true };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    join(app, 'package-lock.json'),
    `${JSON.stringify({ ...pkg, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
}

describe('packaging: npm pack, a production install, a round trip', function () {
  // A clean product build and an install of ~100 packages on two busy cores.
  this.timeout(240_000);
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  let dir: string;
  let app: string;
  let files: string[];
  let installLog: string;
  let bin: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskgrid-pack-'));
    app = join(dir, 'app');
    mkdirSync(app);
    const packed = JSON.parse(
      // stdout is the JSON alone; the prepack build's output goes to stderr.
      (
        await execFileAsync('npm', ['pack', '--json', '--pack-destination', dir], {
          cwd: ROOT,
          env: npmEnv(),
          maxBuffer: 64 * 1024 * 1024,
        })
      ).stdout,
    ) as { filename: string; files: { path: string }[] }[];
    const tarball = packed[0]?.filename as string;
    files = packed[0]?.files.map((f) => f.path) ?? [];
    writeApp(app, tarball, manifest);
    installLog = await npm(
      ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund', `../${tarball}`],
      app,
    );
    bin = join(app, 'node_modules', '.bin', 'taskgrid');
  });

  afterEach(killAll);

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs the product build alone: lib/, no test/, perf/ or dist/', () => {
    expect(files).to.include.members([
      'package.json',
      'LICENSE',
      'lib/cli/taskgrid.js',
      'lib/index.js',
    ]);
    expect(files).to.include('lib/index.d.ts');
    const strays = files.filter(
      (f) => !f.startsWith('lib/') && !/^[^/]+\.(json|md)$/.test(f) && f !== 'LICENSE',
    );
    expect(strays).to.deep.equal([]);
    expect(files.filter((f) => /(^|\/)(test|perf|dist)\//.test(f))).to.deep.equal([]);
  });

  it('installs with --omit=dev: no devDependency, no install-script warning', () => {
    expect(installLog).to.not.match(/install.?scripts?/i);
    const present = Object.keys(manifest.devDependencies).filter(
      (name) =>
        existsSync(join(app, 'node_modules', name)) ||
        existsSync(join(app, 'node_modules', 'taskgrid', 'node_modules', name)),
    );
    expect(present).to.deep.equal([]);
    for (const name of Object.keys(manifest.dependencies)) {
      expect(existsSync(join(app, 'node_modules', name)), name).to.equal(true);
    }
    expect(existsSync(join(app, 'node_modules', 'msgpackr-extract'))).to.equal(false);
  });

  it('ships a manifest without the checkout-only prepare script, and leaves ours as it was', async () => {
    const tarball = join(dir, `taskgrid-${manifest.version}.tgz`);
    const { stdout } = await execFileAsync('tar', ['-xOzf', tarball, 'package/package.json']);
    const shipped = JSON.parse(stdout) as { scripts: Record<string, string> };
    expect(shipped.scripts).to.not.have.property('prepare');
    const ours = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as typeof shipped;
    expect(ours.scripts).to.have.property('prepare');
    expect(ours.scripts).to.not.have.property('_prepare');
  });

  it('a checkout installed with npm ci, then pruned with --omit=dev, runs lib/cli/taskgrid.js', async () => {
    const checkout = join(dir, 'checkout');
    const { stdout } = await execFileAsync('git', ['-C', ROOT, 'ls-files', '-z'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    for (const file of stdout.split('\0').filter((f) => f !== '' && existsSync(join(ROOT, f)))) {
      mkdirSync(dirname(join(checkout, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(checkout, file));
    }
    // prepare builds lib/ with the dev dependencies; the pruned install keeps it.
    await npm(['ci', '--offline', '--no-audit', '--no-fund'], checkout);
    await npm(['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], checkout);
    expect(existsSync(join(checkout, 'node_modules', 'typescript'))).to.equal(false);
    const help = runProcess(process.execPath, [
      join(checkout, manifest.bin.taskgrid as string),
      '--help',
    ]);
    expect(await help.exited, help.output()).to.equal(0);
    expect(help.output()).to.match(/Usage: taskgrid/);
  });

  it('runs `taskgrid --help` and `--version` from the installed bin', async () => {
    const help = runProcess(bin, ['--help']);
    // The version is read from package.json relative to lib/shared/: it must resolve there.
    const version = runProcess(bin, ['--version']);
    expect(await help.exited, help.output()).to.equal(0);
    expect(help.output()).to.match(/Usage: taskgrid/);
    expect(await version.exited, version.output()).to.equal(0);
    expect(version.output().trim()).to.equal(manifest.version);
  });

  it('runs a server, a worker and submit end to end', async () => {
    const server = runProcess(bin, ['server', '--port', '0', '--mode', 'push', ...redisFlags()]);
    const [, url] = await waitForOutput(server, /"url":"(http:\/\/[^"]+)"/);
    const wsUrl = `${(url as string).replace(/^http/, 'ws')}/ws`;
    // A plain worker and a --sandbox one (it may read only the install and its dependencies).
    const workers = [[], ['--sandbox']].map((extra) =>
      runProcess(bin, ['worker', '--url', wsUrl, '--threads', '1', ...extra]),
    );
    await Promise.all(workers.map((worker) => waitForOutput(worker, /connected to server/)));
    const fn = join(dir, 'add.mjs');
    writeFileSync(fn, 'export default (a, b) => a + b;\n');
    const one = runProcess(bin, ['submit', '--url', url as string, fn, '2', '3']);
    const oneOut = stdoutOf(one);
    expect(await one.exited, one.output()).to.equal(0);
    expect(oneOut().trim()).to.equal('5');
    // --each runs a progress bar (cli-progress, a runtime dependency) beside the tasks.
    const lists = join(dir, 'lists.json');
    writeFileSync(lists, JSON.stringify(Array.from({ length: 20 }, (_, i) => [i, i])));
    const each = runProcess(bin, ['submit', '--url', url as string, '--each', lists, fn]);
    const eachOut = stdoutOf(each);
    expect(await each.exited, each.output()).to.equal(0);
    expect(JSON.parse(eachOut())).to.deep.equal(Array.from({ length: 20 }, (_, i) => 2 * i));
    for (const worker of workers) expect(await stop(worker)).to.equal(0);
    expect(await stop(server)).to.equal(0);
  });
});
