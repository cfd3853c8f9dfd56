/** The product source files (what ships), read for tests that check the code itself. */

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The folders that ship, beside the root `index.ts`. */
export const PRODUCT_FOLDERS = ['shared', 'threads', 'server', 'worker', 'client', 'cli'] as const;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every product .ts file's text, by its path from the project root with `/` separators. */
export function productFiles(): Map<string, string> {
  const paths = [...PRODUCT_FOLDERS.flatMap((d) => sources(join(ROOT, d))), join(ROOT, 'index.ts')];
  return new Map(
    paths.map((p) => [relative(ROOT, p).split(sep).join('/'), readFileSync(p, 'utf8')]),
  );
}
