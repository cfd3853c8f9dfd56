/**
 * The import direction holds (README "Layout"): shared ← threads ←
 * {server, worker}, client → shared, cli → all, nothing → perf/ or test/,
 * and server/dispatch → neither gateway/ nor http/. The checker is shown to
 * catch each kind of breach on fixtures before it is run on the tree.
 */

import { expect } from 'chai';
import { importSpecifiers, layoutViolations } from './helpers/layout-rules.js';
import { productFiles } from './helpers/product-files.js';

describe('layout: import direction', () => {
  describe('importSpecifiers', () => {
    it('finds static, re-exported, side-effect, dynamic and run-time (new URL) references', () => {
      const source = [
        "import { a } from './a.js';",
        "import type { B } from '../b.js';",
        'import {',
        '  c,',
        '  type D,',
        "} from './c.js';",
        "import './side-effect.js';",
        "export { e } from './e.js';",
        "export * from './f.js';",
        "const g = await import('./g.js');",
        "const entry = new URL('./thread-runtime.js', import.meta.url);",
        "import { readFileSync } from 'node:fs';",
      ].join('\n');
      expect(importSpecifiers(source)).to.deep.equal([
        './a.js',
        '../b.js',
        './c.js',
        './side-effect.js',
        './e.js',
        './f.js',
        './g.js',
        './thread-runtime.js',
        'node:fs',
      ]);
    });

    it('skips what only looks like an import: comments, strings, templates, regex literals', () => {
      const source = [
        "// import { x } from '../server/x.js';",
        "/* import('../perf/run.js') */",
        'const s = "import y from \'../test/y.js\'";',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: source text with templates in it
        "const t = `file://${root} import('../perf/z.js') ${`nested ${'}'}`}`;",
        "const r = /from '(?:[^']*)'/g;",
        "const half = total / 2; const q = 'import';",
        "import { real } from './real.js';",
      ].join('\n');
      expect(importSpecifiers(source)).to.deep.equal(['./real.js']);
    });
  });

  describe('layoutViolations', () => {
    it('names the file and the import for every kind of breach', () => {
      const bad = new Map([
        ['shared/a.ts', "import { x } from '../server/x.js';"],
        ['threads/b.ts', "import type { Y } from '../worker/y.js';"],
        ['server/c.ts', "import { z } from '../worker/z.js';"],
        ['server/d.ts', "import { c } from '../client/c.js';"],
        ['worker/e.ts', "import { s } from '../server/s.js';"],
        ['client/f.ts', "import { p } from '../threads/p.js';"],
        ['cli/g.ts', "import { r } from '../perf/run.js';"],
        ['server/store/h.ts', "const t = await import('../../test/helpers/t.js');"],
        ['server/dispatch/i.ts', "import type { G } from '../gateway/g.js';"],
        ['server/dispatch/j.ts', "import { h } from '../http/h.js';"],
        ['index.ts', "export { w } from '../elsewhere/w.js';"],
      ]);
      const found = layoutViolations(bad);
      expect(found).to.have.length(bad.size);
      for (const [path, source] of bad) {
        const specifier = importSpecifiers(source)[0] as string;
        expect(
          found.some((line) => line.startsWith(`${path}: imports '${specifier}'`)),
          path,
        ).to.equal(true);
      }
    });

    it('allows each direction the layout allows', () => {
      const good = new Map([
        ['shared/a.ts', "import { b } from './b.js';"],
        ['threads/b.ts', "import { e } from '../shared/errors.js';"],
        ['server/c.ts', "import { p } from '../threads/thread-pool.js';"],
        ['server/gateway/d.ts', "import type { L } from '../dispatch/worker-link.js';"],
        ['server/dispatch/e.ts', "import { s } from '../store/task-store.js';"],
        ['worker/f.ts', "import { p } from '../threads/thread-pool.js';"],
        ['client/g.ts', "import { e } from '../shared/protocol.js';"],
        ['cli/h.ts', "import { w } from '../worker/worker-client.js';"],
        ['index.ts', "export { G } from './server/grid-server.js';"],
      ]);
      expect(layoutViolations(good)).to.deep.equal([]);
    });
  });

  it('holds for every product file', () => {
    const files = productFiles();
    expect(files.size).to.be.greaterThan(50);
    expect(layoutViolations(files)).to.deep.equal([]);
  });
});
