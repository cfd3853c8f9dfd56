/**
 * A production install (`npm ci --omit=dev`) has only `dependencies`: every
 * package that product code imports must be listed there, not in
 * devDependencies, or `taskgrid --help` fails on a deploy; and nothing else
 * is listed there, or every deploy installs what no code loads (the perf
 * baselines' pools, node-worker-threads-pool and piscina, are
 * devDependencies).
 */

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { expect } from 'chai';
import { productFiles, ROOT } from './helpers/product-files.js';

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

interface Manifest {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** Each package product code loads at run time (type-only imports aside), with one file that does. */
function productImports(): Map<string, string> {
  const builtins = new Set(builtinModules);
  const found = new Map<string, string>();
  for (const [file, text] of productFiles()) {
    // Static imports (type-only ones aside), and `await import('x')` of what loads on demand.
    const statics = text.matchAll(/^import (?!type )[^;]*?from '([^'.][^']*)';/gms);
    const dynamics = text.matchAll(/\bimport\('([^'.][^']*)'\)/g);
    for (const match of [...statics, ...dynamics]) {
      const name = packageOf(match[1] as string);
      if (name.startsWith('node:') || builtins.has(name)) continue;
      if (!found.has(name)) found.set(name, file);
    }
  }
  return found;
}

describe('dependencies', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;

  it('lists every package product code imports (type-only imports aside) in dependencies', () => {
    const missing = [...productImports()]
      .filter(([name]) => !(name in manifest.dependencies))
      .map(([name, file]) => `${name} (${file})`);
    expect(missing).to.deep.equal([]);
  });

  it('lists nothing else in dependencies, and keeps the baseline pools in devDependencies', () => {
    const imported = productImports();
    const unused = Object.keys(manifest.dependencies).filter((name) => !imported.has(name));
    expect(unused).to.deep.equal([]);
    expect(Object.keys(manifest.devDependencies)).to.include.members([
      'node-worker-threads-pool',
      'piscina',
    ]);
  });
});
