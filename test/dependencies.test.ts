/**
 * A production install (`npm ci --omit=dev`) has only `dependencies`: every
 * package that product code imports must be listed there, not in
 * devDependencies, or `taskgrid --help` fails on a deploy.
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

describe('dependencies', () => {
  it('lists every package product code imports (type-only imports aside) in dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    for (const [file, text] of productFiles()) {
      for (const match of text.matchAll(/^import (?!type )[^;]*?from '([^'.][^']*)';/gms)) {
        const name = packageOf(match[1] as string);
        if (name.startsWith('node:') || builtins.has(name)) continue;
        if (!(name in manifest.dependencies)) missing.add(`${name} (${file})`);
      }
    }
    expect([...missing]).to.deep.equal([]);
  });
});
