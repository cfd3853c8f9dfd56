/**
 * /openapi.json as tools take it: redocly's `recommended` rules find nothing
 * to say about it; every route the server registers is in it and every
 * operation in it is a route; and openapi-typescript turns it into types
 * that a small strict client compiles against and then runs with, against
 * the live server. A reply shape, path or field that drifts from the
 * document breaks one of these.
 */

import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { expect } from 'chai';
import openapiTS from 'openapi-typescript';
import type { GridServer } from '../server/grid-server.js';
import { startInProcess } from './helpers/in-process.js';
import { ROOT } from './helpers/product-files.js';

const execFileAsync = promisify(execFile);

interface Doc {
  paths: Record<string, Record<string, { operationId?: string }>>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** `METHOD /path/{param}` for every route registered in server/ (Express `:param` → `{param}`). */
function registeredRoutes(): string[] {
  const routes: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(
          /\b(?:router|app)\.(get|post|put|patch|delete)\(\s*'([^']+)'/g,
        )) {
          const route = (m[2] as string).replace(/:(\w+)/g, '{$1}');
          routes.push(`${(m[1] as string).toUpperCase()} ${route}`);
        }
      }
    }
  };
  walk(join(ROOT, 'server'));
  return routes.sort();
}

function documentedOperations(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      METHODS.filter((m) => m in item).map((m) => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}

/** The repo's TypeScript compiler (TypeScript 7: a launcher for the native binary). */
function tsc(args: string[], cwd: string): { status: number | null; output: string } {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  const run = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A client typed only by the generated `paths`; it prints what the server answered. */
const CLIENT = `import type { paths } from './api.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type RegisterBody = paths['/register_function']['post']['requestBody']['content']['application/json'];
type Registered = Json<paths['/register_function']['post']['responses'][201]>;
type ExecuteBody = paths['/execute_function']['post']['requestBody']['content']['application/json'];
type Submitted = Json<paths['/execute_function']['post']['responses'][201]>;
type ResultQuery = NonNullable<paths['/result/{task_id}']['get']['parameters']['query']>;
type Result = Json<paths['/result/{task_id}']['get']['responses'][200]>;
type Status = Json<paths['/status/{task_id}']['get']['responses'][200]>;
type NotFound = Json<paths['/status/{task_id}']['get']['responses'][404]>;

const base = process.env.TASKGRID_URL as string;

async function call<T>(method: string, path: string, expected: number, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  if (res.status !== expected) throw new Error(method + ' ' + path + ': ' + res.status + ' ' + text);
  return JSON.parse(text) as T;
}

const register: RegisterBody = { name: 'add', payload: '(a, b) => a + b' };
const registered = await call<Registered>('POST', '/register_function', 201, register);
const execute: ExecuteBody = { function_id: registered.function_id, payload: JSON.stringify([2, 3]) };
const submitted = await call<Submitted>('POST', '/execute_function', 201, execute);
const query: ResultQuery = { wait: 10000 };
const result = await call<Result>('GET', '/result/' + submitted.task_id + '?wait=' + query.wait, 200);
const status = await call<Status>('GET', '/status/' + submitted.task_id, 200);
const missing = await call<NotFound>('GET', '/status/' + crypto.randomUUID(), 404);
console.log(
  JSON.stringify({
    function_id: registered.function_id,
    task_id: submitted.task_id,
    result_task_id: result.task_id,
    result_status: result.status,
    result: result.result,
    status: status.status,
    error_code: missing.error.code,
  }),
);
`;

/** Does not compile if the generated types mean anything: a status the document does not list. */
const DRIFT = `import type { paths } from './api.js';

type Status = paths['/status/{task_id}']['get']['responses'][200]['content']['application/json'];
export const wrong: Status = { task_id: 'x', status: 'DONE' };
`;

describe('OpenAPI document as tools take it', () => {
  let server: GridServer;
  let doc: Doc;
  let source: string;
  let dir: string;

  before(async () => {
    server = await startInProcess('memory');
    source = await (await fetch(`${server.url}/openapi.json`)).text();
    doc = JSON.parse(source) as Doc;
    dir = mkdtempSync(join(tmpdir(), 'taskgrid-openapi-'));
  });

  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lints clean with redocly's recommended rules (no errors, no warnings)", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
    const lines = problems.map(
      (p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`,
    );
    expect(lines, lines.join('\n')).to.deep.equal([]);
  });

  it('gives every operation an operationId, a 4xx answer, and names a server and a license', () => {
    const full = JSON.parse(source) as Doc & {
      servers?: unknown[];
      info: { license?: { name: string } };
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(full.servers).to.have.length.greaterThan(0);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      license: string;
    };
    expect(full.info.license?.name).to.equal(manifest.license);
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(full.paths)) {
      for (const method of METHODS) {
        const operation = item[method] as
          | { operationId?: string; responses: Record<string, unknown> }
          | undefined;
        if (!operation) continue;
        expect(operation.operationId, `${method} ${path}`).to.be.a('string');
        ids.add(operation.operationId as string);
        expect(Object.keys(operation.responses).some((code) => code.startsWith('4'))).to.equal(
          true,
          `${method} ${path} has no 4xx answer`,
        );
      }
    }
    expect(ids.size).to.equal(documentedOperations(doc).length);
  });

  it('documents exactly the routes the server registers, and each documented one is served', async () => {
    const routes = registeredRoutes();
    expect(routes.length).to.be.greaterThan(15);
    expect(documentedOperations(doc)).to.deep.equal(routes);
    // And each is really there: an unknown route is a 404 "No such route"; these are anything else.
    const id = '00000000-0000-4000-8000-000000000000';
    for (const operation of documentedOperations(doc)) {
      const [method, path] = operation.split(' ') as [string, string];
      const res = await fetch(`${server.url}${path.replace(/\{\w+\}/g, id)}`, {
        method,
        ...(method === 'GET' || method === 'DELETE'
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: '{}' }),
      });
      const text = await res.text();
      expect(text, operation).to.not.match(/No such route/);
    }
  });

  it('generates types with openapi-typescript that a strict client compiles against and runs with', async function () {
    this.timeout(60_000);
    writeFileSync(join(dir, 'api.ts'), await openapiTS(JSON.parse(source) as never));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    writeFileSync(join(dir, 'client.ts'), CLIENT);
    writeFileSync(join(dir, 'drift.ts'), DRIFT);
    const common = [
      '--strict',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--lib',
      'es2023',
      '--types',
      'node',
      '--typeRoots',
      join(ROOT, 'node_modules', '@types'),
      '--skipLibCheck',
    ];
    // Type-checks (nothing is written unless it passes), then runs below.
    const checked = tsc([...common, '--noEmitOnError', '--outDir', 'out', 'client.ts'], dir);
    expect(checked.status, checked.output).to.equal(0);
    // The types have teeth: a status the document does not list is a compile error.
    const drift = tsc([...common, '--noEmit', 'drift.ts'], dir);
    expect(drift.status).to.not.equal(0);
    expect(drift.output).to.match(/drift\.ts.*"DONE"/s);
    // The client runs against the live server, reading the fields the types promise.
    // Asynchronously: the server answering it runs in this process.
    const run = await execFileAsync(process.execPath, [join(dir, 'out', 'client.js')], {
      env: { ...process.env, TASKGRID_URL: server.url },
      timeout: 30_000,
    });
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(out).to.include({
      result_task_id: out.task_id,
      result_status: 'COMPLETED',
      result: '5',
      status: 'COMPLETED',
      error_code: 'TG_NOT_FOUND',
    });
    expect(out.function_id).to.be.a('string');
  });
});
