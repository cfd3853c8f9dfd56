/**
 * The import direction of the product folders (README "Layout"):
 *
 *   shared ← threads ← {server, worker};  client → shared;  cli → all;
 *   nothing in product code → perf/ or test/;
 *   inside server, dispatch/ → neither gateway/ nor http/.
 *
 * `importSpecifiers` reads a TypeScript file's module references with a small
 * scanner (comments, strings, templates and regex literals are skipped, so
 * an import written in a comment is not one); `layoutViolations` checks
 * them against the rules above. TypeScript 7 has no JavaScript API to parse
 * with, hence the scanner.
 */

import { posix } from 'node:path';
import { PRODUCT_FOLDERS } from './product-files.js';

/** What each product part may import, besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  shared: [],
  threads: ['shared'],
  server: ['shared', 'threads'],
  worker: ['shared', 'threads'],
  client: ['shared'],
  cli: ['shared', 'threads', 'server', 'worker', 'client'],
  'index.ts': ['shared', 'threads', 'server', 'worker', 'client', 'cli'],
};

/** Inside server/: sub-folders a sub-folder must not import. */
const SERVER_FORBIDDEN: Record<string, readonly string[]> = {
  dispatch: ['gateway', 'http'],
};

const IDENT_START = /[A-Za-z_$]/;
const IDENT = /[\w$]/;
/** After these keywords a `/` starts a regex literal, not a division. */
const BEFORE_REGEX = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'void']);

type Token = { kind: 'ident' | 'string' | 'punct' | 'other'; text: string };

/** Tokens of a TypeScript source, with comments, templates and regex literals dropped. */
function tokens(source: string): Token[] {
  const out: Token[] = [];
  /** One entry per open template `${`: how many `{` are open inside it. */
  const templates: number[] = [];
  let i = 0;
  const n = source.length;

  /** Skips template text from `i` (just past a backtick or a closing `}`) to its end or next `${`. */
  const templateText = (): void => {
    while (i < n) {
      const c = source[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        i++;
        out.push({ kind: 'other', text: '`' });
        return;
      } else if (c === '$' && source[i + 1] === '{') {
        i += 2;
        templates.push(0);
        return;
      } else i++;
    }
  };

  while (i < n) {
    const c = source[i] as string;
    const next = source[i + 1];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && next === '/') {
      while (i < n && source[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      out.push({ kind: 'string', text: source.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '`') {
      i++;
      templateText();
    } else if ((c === '{' || c === '}') && templates.length > 0) {
      // Inside a template's `${…}`: a `}` with no `{` of its own open ends it.
      const open = templates.pop() as number;
      if (c === '}' && open === 0) {
        i++;
        templateText();
        continue;
      }
      templates.push(c === '{' ? open + 1 : open - 1);
      out.push({ kind: 'punct', text: c });
      i++;
    } else if (c === '/' && startsRegex(out[out.length - 1])) {
      let j = i + 1;
      let inClass = false;
      while (j < n && source[j] !== '\n') {
        const r = source[j];
        if (r === '\\') j++;
        else if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
        j++;
      }
      i = j + 1;
      while (i < n && IDENT.test(source[i] as string)) i++; // flags
      out.push({ kind: 'other', text: 'regex' });
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT.test(source[j] as string)) j++;
      out.push({ kind: 'ident', text: source.slice(i, j) });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(source[j] as string)) j++;
      out.push({ kind: 'other', text: source.slice(i, j) });
      i = j;
    } else {
      out.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return out;
}

function startsRegex(previous: Token | undefined): boolean {
  if (!previous) return true;
  if (previous.kind === 'ident') return BEFORE_REGEX.has(previous.text);
  if (previous.kind === 'punct') return !/[)\]}]/.test(previous.text);
  return false; // a number, string, template or regex before: a division
}

/**
 * Every module a source refers to: `import … from 'x'`, `export … from 'x'`,
 * `import 'x'`, `import('x')`, and files resolved at run time with
 * `new URL('x.js', import.meta.url)` (a thread's entry file).
 */
export function importSpecifiers(source: string): string[] {
  const list = tokens(source);
  const out: string[] = [];
  const at = (k: number): Token | undefined => list[k];
  for (let k = 0; k < list.length; k++) {
    const t = list[k] as Token;
    if (t.kind !== 'ident') continue;
    const a = at(k + 1);
    const b = at(k + 2);
    if ((t.text === 'from' || t.text === 'import') && a?.kind === 'string') out.push(a.text);
    else if (t.text === 'import' && a?.text === '(' && b?.kind === 'string') out.push(b.text);
    else if (
      t.text === 'URL' &&
      at(k - 1)?.text === 'new' &&
      a?.text === '(' &&
      b?.kind === 'string' &&
      b.text.endsWith('.js') &&
      at(k + 3)?.text === ',' &&
      at(k + 4)?.text === 'import'
    ) {
      out.push(b.text);
    }
  }
  return out;
}

/** `server/dispatch/x.ts` → ['server', 'dispatch']; `index.ts` → ['index.ts']. */
function partsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.length === 1 ? parts : parts.slice(0, -1);
}

/**
 * Breaches of the import direction, one line each (`file: imports 'x' (why)`).
 * `files` maps a path relative to the project root (`server/grid-server.ts`)
 * to its source text.
 */
export function layoutViolations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [path, source] of files) {
    const [part = '', sub] = partsOf(path);
    const allowed = ALLOWED[part];
    if (!allowed) {
      out.push(`${path}: not in a product folder (${PRODUCT_FOLDERS.join(', ')}, index.ts)`);
      continue;
    }
    for (const specifier of importSpecifiers(source)) {
      if (!specifier.startsWith('.')) continue; // a package or a node: built-in
      const target = posix.normalize(posix.join(posix.dirname(path), specifier));
      const [to = '', toSub] = partsOf(target);
      const refuse = (why: string) => out.push(`${path}: imports '${specifier}' (${why})`);
      if (target.startsWith('..')) refuse('outside the project');
      else if (to === 'perf' || to === 'test') refuse(`product code never imports ${to}/`);
      else if (to !== part && !allowed.includes(to)) {
        refuse(`${part} may import ${[part, ...allowed].join(', ')} only`);
      } else if (part === 'server' && to === 'server' && sub && toSub) {
        if (SERVER_FORBIDDEN[sub]?.includes(toSub)) refuse(`server/${sub} never imports ${toSub}/`);
      }
    }
  }
  return out;
}
