// Builds lib/, the product build (tsconfig.build.json) that package.json's bin, main and
// exports point at: on `npm pack` (prepack), always from scratch. On `npm ci` / `npm install`
// in a checkout (prepare, `--from-dist`) it builds dist/ (tsc -b, what npm start and npm test
// build too, so theirs is then up to date) and takes lib/ from it: the same JavaScript and
// declarations, without the source maps. One compile instead of two on a fresh clone (19 s
// for lib/ and 22 s for dist/ here). A production install (`--omit=dev`) has no TypeScript:
// there a lib/ built before is kept, and without one it says what to run instead.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** What tsconfig.build.json compiles: the product, no tests or perf. */
const PRODUCT = [
  'shared',
  'threads',
  'server',
  'worker',
  'cli',
  'client',
  'index.js',
  'index.d.ts',
];
const SOURCE_MAP_COMMENT = /\n\/\/# sourceMappingURL=[^\n]*\n?$/;

const require = createRequire(import.meta.url);
let tsc;
try {
  // Its exports do not list bin/tsc: find the package, then the bin it declares.
  const manifest = require.resolve('typescript/package.json');
  tsc = join(dirname(manifest), require(manifest).bin.tsc);
} catch {
  if (existsSync('lib/cli/taskgrid.js')) process.exit(0);
  console.error(
    'taskgrid: lib/ is not built and TypeScript is not installed (a --omit=dev install): ' +
      'run `npm ci` once with dev dependencies, or install the packed tarball (`npm pack`).',
  );
  process.exit(1);
}
rmSync('lib', { recursive: true, force: true });
if (process.argv.includes('--from-dist')) {
  execFileSync(process.execPath, [tsc, '-b'], { stdio: 'inherit' });
  for (const entry of PRODUCT) {
    cpSync(join('dist', entry), join('lib', entry), {
      recursive: true,
      filter: (from) => !from.endsWith('.map'),
    });
  }
  stripSourceMapComments('lib');
} else {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}

/** lib/ ships without source maps: drop the comments that point at them. */
function stripSourceMapComments(dir) {
  for (const file of readdirRecursive(dir)) {
    if (!file.endsWith('.js')) continue;
    const text = readFileSync(file, 'utf8');
    const stripped = text.replace(SOURCE_MAP_COMMENT, '\n');
    if (stripped !== text) writeFileSync(file, stripped);
  }
}

function readdirRecursive(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? d.path, d.name));
}
