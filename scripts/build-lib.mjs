// Builds lib/, the product build (tsconfig.build.json) that package.json's bin, main and
// exports point at: on `npm ci` / `npm install` in a checkout (prepare) and on `npm pack`
// (prepack), always from scratch. A production install (`--omit=dev`) has no TypeScript:
// there a lib/ built before is kept, and without one it says what to run instead.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
