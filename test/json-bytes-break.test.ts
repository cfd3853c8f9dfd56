/**
 * Adversarial end-to-end tests of today's byte paths: a socket batch's
 * payload bytes vouched for without decoding (shared/json-bytes.ts), the
 * SDK's map() writing long strings straight to bytes (heldArgs), and the
 * large-argument texts a server holds for its own claims
 * (held-bulk-args.ts). Every payload sent on the socket is also sent by
 * POST /execute_batch as text: the answer (stored or refused, and the
 * refusal's text) and the stored args must be the same.
 *
 * Randomised cases are seeded (TASKGRID_TEST_SEED, default below) and print
 * the seed when they fail.
 */

import { expect } from 'chai';
import { TaskGrid } from '../client/task-grid.js';
import type { GridServer } from '../server/grid-server.js';
import { isPlainJsonArray } from '../shared/json-bytes.js';
import { heldArgs, isWellFormed, serializeArgs } from '../shared/serialize.js';
import { withSeed } from './chaos/prng.js';
import { ClientSocket, type Frame, rawFrame } from './helpers/client-socket.js';
import { GridClient } from './helpers/grid-client.js';
import { startInProcess } from './helpers/in-process.js';
import { killAll, startServer, startWorker } from './helpers/processes.js';
import { redisFlags, uniquePrefix } from './helpers/root-hooks.js';

const SEED = Number(process.env.TASKGRID_TEST_SEED ?? 20261130);

interface Answer {
  stored: boolean;
  /** The refusal's message, or the stored args. */
  text: string;
  id?: string;
}

let refs = 0;

/** One payload as a socket batch of its own bytes. */
async function bySocket(socket: ClientSocket, fn: string, bytes: Buffer): Promise<Answer> {
  const ref = `r${refs++}`;
  socket.ws.send(
    rawFrame({ type: 'submit_batch', ref, function_id: fn, payload_bytes: [bytes.length] }, bytes),
  );
  const frame: Frame = await socket.answer();
  expect(frame.ref, JSON.stringify(frame)).to.equal(ref);
  if (frame.type === 'refused') {
    return { stored: false, text: `${frame.code}: ${frame.message}` };
  }
  expect(frame.type, JSON.stringify(frame)).to.equal('submitted_batch');
  const id = (frame.task_ids as string[])[0] as string;
  return { stored: true, text: '', id };
}

/** The same payload as text by POST /execute_batch. */
async function byRest(grid: GridClient, fn: string, text: string): Promise<Answer> {
  const reply = await grid.call<{ task_ids?: string[]; error?: { code: string; message: string } }>(
    'POST',
    '/execute_batch',
    { function_id: fn, payloads: [text] },
  );
  if (reply.status !== 201) {
    expect(reply.status, JSON.stringify(reply.body)).to.equal(400);
    return { stored: false, text: `${reply.body.error?.code}: ${reply.body.error?.message}` };
  }
  return { stored: true, text: '', id: reply.body.task_ids?.[0] };
}

async function argsOf(grid: GridClient, id: string): Promise<string> {
  const reply = await grid.call<{ args: string }>('GET', `/task/${id}`);
  expect(reply.status).to.equal(200);
  return reply.body.args;
}

/** Sends `bytes` both ways and checks both answers agree, and with V8's JSON.parse. */
async function compare(
  socket: ClientSocket,
  grid: GridClient,
  fn: string,
  bytes: Buffer,
  what: string,
): Promise<void> {
  const viaSocket = await bySocket(socket, fn, bytes);
  const text = bytes.toString('utf8');
  let v8Ok = Buffer.from(text).equals(bytes);
  if (v8Ok) {
    try {
      v8Ok = Array.isArray(JSON.parse(text)) && isWellFormed(text);
    } catch {
      v8Ok = false;
    }
  }
  const label = `${what}: ${JSON.stringify(text.slice(0, 200))}`;
  if (!Buffer.from(text).equals(bytes)) {
    // Not UTF-8: REST cannot send it; the socket must refuse it.
    expect(viaSocket.stored, label).to.equal(false);
    return;
  }
  const viaRest = await byRest(grid, fn, text);
  expect(viaSocket.stored, `${label} socket vs REST`).to.equal(viaRest.stored);
  if (!viaSocket.stored) {
    expect(viaSocket.text, label).to.equal(viaRest.text);
    return;
  }
  // A reference is stored too (it is a dependency); only plain arrays must match V8.
  if (!text.includes('$task')) expect(v8Ok, label).to.equal(true);
  const stored = await argsOf(grid, viaSocket.id as string);
  expect(stored, label).to.equal(await argsOf(grid, viaRest.id as string));
  expect(Buffer.from(stored).equals(bytes), label).to.equal(true);
}

function nested(depth: number, inner = '1'): string {
  return `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
}

/** Texts that are almost JSON arrays, or just are. */
const ALMOST: [string, Buffer][] = [
  ['raw control byte', Buffer.from('["a\u0001b"]')],
  ['raw NUL in string', Buffer.from('["a\u0000"]')],
  ['NUL after', Buffer.from('[1]\u0000')],
  ['backslash at the very end', Buffer.from('["abc\\')],
  ['backslash quote at end', Buffer.from('["abc\\"]')],
  ['escaped quote', Buffer.from('["a\\"b"]')],
  ['invalid escape', Buffer.from('["\\x41"]')],
  ['escape $', Buffer.from('["\\$task"]')],
  ['$task disguised', Buffer.from('[{"$\\u0074ask":"x"}]')],
  ['$task key', Buffer.from('[{"$task":"00000000-0000-4000-8000-000000000000"}]')],
  ['lone surrogate escape', Buffer.from('["\\ud800"]')],
  ['surrogate pair escape', Buffer.from('["\\ud83d\\ude00"]')],
  ['\\u0000', Buffer.from('["\\u0000"]')],
  ['short \\u', Buffer.from('["\\u00"]')],
  ['overlong slash', Buffer.from([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d])],
  ['UTF-8 surrogate', Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d])],
  ['truncated UTF-8', Buffer.from([0x5b, 0x22, 0xe2, 0x82, 0x22, 0x5d])],
  ['0xff', Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d])],
  ['BOM', Buffer.from('\ufeff[1]')],
  ['vertical tab', Buffer.from('[\u000b1]')],
  ['form feed', Buffer.from('[\u000c1]')],
  ['NBSP', Buffer.from('[\u00a01]')],
  ['line separator', Buffer.from('[1\u2028]')],
  ['all four spaces', Buffer.from(' \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ "a" : 2 } ]\n\t ')],
  ['-', Buffer.from('[-]')],
  ['1.', Buffer.from('[1.]')],
  ['1e+', Buffer.from('[1e+]')],
  ['1e', Buffer.from('[1e]')],
  ['01', Buffer.from('[01]')],
  ['-01', Buffer.from('[-01]')],
  ['.5', Buffer.from('[.5]')],
  ['+1', Buffer.from('[+1]')],
  ['-0', Buffer.from('[-0]')],
  ['1E-7', Buffer.from('[1E-7]')],
  ['huge number', Buffer.from('[1e400,-1e400,123456789012345678901234567890]')],
  ['Infinity', Buffer.from('[Infinity]')],
  ['NaN', Buffer.from('[NaN]')],
  ['0x10', Buffer.from('[0x10]')],
  ['trailing garbage', Buffer.from('[1]x')],
  ['two arrays', Buffer.from('[1][2]')],
  ['trailing comma', Buffer.from('[1,]')],
  ['leading comma', Buffer.from('[,1]')],
  ['object trailing comma', Buffer.from('[{"a":1,}]')],
  ['missing colon', Buffer.from('[{"a" 1}]')],
  ['key not string', Buffer.from('[{a:1}]')],
  ['mismatched', Buffer.from('[{"a":1]]')],
  ['mismatched 2', Buffer.from('[[1}]')],
  ['empty object', Buffer.from('[{}]')],
  ['empty inner', Buffer.from('[[],{},[[]]]')],
  ['empty', Buffer.from('[]')],
  ['unclosed', Buffer.from('[1')],
  ['unclosed string', Buffer.from('["a')],
  ['object top', Buffer.from('{"a":1}')],
  ['string top', Buffer.from('"[1]"')],
  ['tru', Buffer.from('[tru]')],
  ['truex', Buffer.from('[truex]')],
  ['nul', Buffer.from('[nul]')],
  ['literals', Buffer.from('[true,false,null]')],
  ['TRUE', Buffer.from('[TRUE]')],
  ['single quotes', Buffer.from("['a']")],
  ['proto key', Buffer.from('[{"__proto__":{"x":1}}]')],
  ['duplicate keys', Buffer.from('[{"a":1,"a":2}]')],
  ['nest 63', Buffer.from(nested(63))],
  ['nest 64', Buffer.from(nested(64))],
  ['nest 65', Buffer.from(nested(65))],
  ['nest 64 objects', Buffer.from(`[${'{"a":'.repeat(63)}1${'}'.repeat(63)}]`)],
  ['nest 65 objects', Buffer.from(`[${'{"a":'.repeat(64)}1${'}'.repeat(64)}]`)],
  ['nest 64 unbalanced', Buffer.from(`${'['.repeat(64)}1${']'.repeat(63)}`)],
  ['nest 64 extra close', Buffer.from(`${'['.repeat(64)}1${']'.repeat(65)}`)],
  ['DEL byte', Buffer.from('["\u007f"]')],
  ['all short escapes', Buffer.from('["\\"\\\\\\/\\b\\f\\n\\r\\t"]')],
  ['emoji', Buffer.from('["😀中é"]')],
];

/** A long string body around `core`, which lands at every offset mod 4 and across word scans. */
function around(core: string, before: number, after: number): Buffer {
  return Buffer.from(`["${'a'.repeat(before)}${core}${'b'.repeat(after)}"]`);
}

describe('JSON bytes, broken on purpose', function () {
  this.timeout(120_000);

  describe('socket batch vs POST /execute_batch, one server on Redis', () => {
    let server: GridServer;
    let grid: GridClient;
    let socket: ClientSocket;
    let fn: string;
    before(async () => {
      server = await startInProcess('redis', { threads: 1 });
      grid = new GridClient(server.url);
      fn = await grid.register('function keep(...a) { return a.length }');
      socket = await new ClientSocket(server.url).open();
    });
    after(async () => {
      socket.ws.close();
      await server.close();
    });

    it('gives the same answer and the same stored args for almost-valid JSON texts', async () => {
      for (const [what, bytes] of ALMOST) await compare(socket, grid, fn, bytes, what);
    });

    it('gives the same answer for a bad byte or escape at every offset around the word scan of a long string', async () => {
      const cores: [string, string][] = [
        ['raw \\x01', '\u0001'],
        ['raw \\x1f', '\u001f'],
        ['raw \\n', '\n'],
        ['raw \\x00', '\u0000'],
        ['\\u0041', '\\u0041'],
        ['\\ud800', '\\ud800'],
        ['bad escape', '\\q'],
        ['ok escape', '\\n'],
        ['escaped quote', '\\"'],
        ['double backslash', '\\\\'],
        ['stray quote', '"'],
        ['space', ' '],
        ['DEL', '\u007f'],
        ['emoji', '😀'],
        ['0x20 borders', ' !\u001f!'],
      ];
      for (const [what, core] of cores) {
        for (let before = 60; before < 140; before += 7) {
          for (const after of [0, 1, 2, 3, 4, 5, 17, 70]) {
            const bytes = around(core, before, after);
            const vouched = isPlainJsonArray(bytes);
            let v8 = true;
            try {
              JSON.parse(bytes.toString());
            } catch {
              v8 = false;
            }
            const label = `${what} at ${before}/${after}`;
            if (vouched) expect(v8, label).to.equal(true);
          }
          // End to end for some of the offsets (each is a round trip).
          if (before % 3 === 0) await compare(socket, grid, fn, around(core, before, 3), what);
        }
        // A backslash as the last byte of a long string body, of the payload.
        await compare(socket, grid, fn, Buffer.from(`["${'a'.repeat(200)}\\`), `${what} tail`);
      }
    });

    it('refuses a ≥ 64 KiB payload with one bad byte at a seeded random position, as REST does', async () => {
      await withSeed(SEED, async (prng) => {
        const bad = [0x00, 0x01, 0x0a, 0x1f, 0x22, 0x5c, 0xff, 0xc0, 0x80, 0xed];
        for (let round = 0; round < 40; round++) {
          const length = prng.int(64 * 1024, 130 * 1024);
          const body = Buffer.alloc(length, 0x61);
          // Multi-byte characters and escapes sprinkled in, all valid.
          for (let k = 0; k < 50; k++) {
            const at = prng.int(0, length - 8);
            const piece = prng.pick(['é', '中', '😀', '\\n', '\\"', '\\\\']);
            const b = Buffer.from(piece);
            // Only where it does not cut another piece: overwrite plain 'a's.
            if (body.subarray(at, at + b.length).every((x) => x === 0x61)) b.copy(body, at);
          }
          const position = prng.int(0, length - 1);
          const byte = prng.pick(bad);
          const clean = Buffer.concat([Buffer.from('["'), body, Buffer.from('"]')]);
          const dirty = Buffer.from(clean);
          dirty[2 + position] = byte;
          const what = `round ${round} length ${length} byte 0x${byte.toString(16)} at ${position}`;
          await compare(socket, grid, fn, dirty, what);
          if (round % 8 === 0) await compare(socket, grid, fn, clean, `${what} (clean)`);
        }
      });
    });
  });

  describe('heldArgs and fn.map()', () => {
    it('heldArgs always writes JSON.stringify’s bytes for seeded lists with long strings', async () => {
      await withSeed(SEED + 1, async (prng) => {
        const pieces = [
          'a',
          '"',
          '\\',
          '\n',
          '\u0001',
          '\u001f',
          '\u007f',
          '😀',
          '\ud800',
          '\udc00',
          'é',
          '\u2028',
          '中',
        ];
        for (let round = 0; round < 200; round++) {
          const args: unknown[] = [];
          const n = prng.int(1, 4);
          for (let k = 0; k < n; k++) {
            const kind = prng.int(0, 5);
            if (kind === 0) args.push(prng.next() * 1e6 - 5e5);
            else if (kind === 1) args.push(prng.pick([null, true, false, -0, Number.NaN, 1e300]));
            else {
              const length = prng.pick([100, 16 * 1024 - 1, 16 * 1024, 20_000]);
              const rare = prng.chance(0.5) ? prng.pick(pieces) : '';
              const s = 'x'.repeat(length);
              const at = prng.int(0, length);
              args.push(s.slice(0, at) + rare + s.slice(at));
            }
          }
          const held = heldArgs(args);
          const bytes = typeof held === 'string' ? Buffer.from(held) : held;
          expect(bytes.equals(Buffer.from(serializeArgs(args))), `round ${round}`).to.equal(true);
        }
      });
    });

    it('each task of map() over seeded long strings receives exactly its arguments', async () => {
      await withSeed(SEED + 2, async (prng) => {
        const server = await startInProcess('redis', { threads: 2 });
        const grid = new TaskGrid({ url: server.url });
        try {
          const digest = await grid.register((...a: unknown[]) =>
            JSON.stringify(a.map((x) => (typeof x === 'string' ? [x.length, x] : x))),
          );
          const pieces = ['"', '\\', '\n', '\u0000', '😀', '\ud83d', '\ude00', 'é', '\t', '$task'];
          const lists: unknown[][] = [];
          for (let i = 0; i < 40; i++) {
            const list: unknown[] = [];
            for (let k = prng.int(1, 3); k > 0; k--) {
              if (prng.chance(0.2)) {
                list.push(prng.int(-1000, 1000));
                continue;
              }
              const length = prng.pick([16 * 1024, 40_000, 9000]);
              let s = 'q'.repeat(length);
              for (let m = prng.int(0, 3); m > 0; m--) {
                const at = prng.int(0, s.length);
                s = s.slice(0, at) + prng.pick(pieces) + s.slice(at);
              }
              list.push(s);
            }
            lists.push(list);
          }
          const out: unknown[] = [];
          for await (const v of digest.map(lists as never, { batchSize: 7 })) out.push(v);
          out.forEach((v, i) => {
            const want = JSON.stringify(
              (lists[i] as unknown[]).map((x) => (typeof x === 'string' ? [x.length, x] : x)),
            );
            expect(v === want, `list ${i}`).to.equal(true);
          });
        } finally {
          grid.close();
          await server.close();
        }
      });
    });
  });

  describe('held bulk texts, two servers on one Redis', () => {
    after(killAll);

    it('large tasks submitted to one server and claimed by its own and the other’s workers, some cancelled before a claim, past 32 MiB: results exact', async () => {
      await withSeed(SEED + 3, async (prng) => {
        const prefix = uniquePrefix();
        const a = await startServer(['--mode', 'push', ...redisFlags(prefix)]);
        const b = await startServer(['--mode', 'push', ...redisFlags(prefix)]);
        const viaA = new GridClient(a.url);
        const viaB = new GridClient(b.url);
        const fn = await viaA.register(
          'async function h(s, i) { await new Promise((r) => setTimeout(r, 10)); let x = 0; for (let k = 0; k < s.length; k++) x = (x * 31 + s.charCodeAt(k)) | 0; return [i, s.length, x] }',
        );
        const hash = (s: string) => {
          let x = 0;
          for (let k = 0; k < s.length; k++) x = (x * 31 + s.charCodeAt(k)) | 0;
          return x;
        };
        // Nobody works yet: tasks wait queued while some are cancelled or deleted.
        const socket = await new ClientSocket(a.url).open();
        const want = new Map<string, unknown>();
        const gone: string[] = [];
        let index = 0;
        // ~40 MiB in 40 batches of 8 × 8–256 KiB: past the 32 MiB bound.
        for (let batch = 0; batch < 40; batch++) {
          const texts: string[] = [];
          for (let k = 0; k < 8; k++) {
            const fill = String.fromCharCode(0x61 + prng.int(0, 25));
            const s = `${index}:${fill.repeat(prng.int(8 * 1024, 256 * 1024))}é😀`;
            texts.push(JSON.stringify([s, index]));
            want.set(`${index}`, [index, s.length, hash(s)]);
            index++;
          }
          socket.batch({ ref: `b${batch}`, function_id: fn, payloads: texts });
          const answer = await socket.answer();
          expect(answer.type, JSON.stringify(answer)).to.equal('submitted_batch');
          const ids = answer.task_ids as string[];
          ids.forEach((id, k) => {
            want.set(id, want.get(`${index - 8 + k}`));
          });
          // Two cancelled before any claim: one on the other server, one on this one.
          if (batch % 3 === 0) {
            const c = await viaB.call('DELETE', `/task/${ids[1]}`);
            expect(c.status, JSON.stringify(c.body)).to.equal(200);
            gone.push(ids[1] as string);
            const d = await viaA.call('DELETE', `/task/${ids[2]}`);
            expect(d.status, JSON.stringify(d.body)).to.equal(200);
            gone.push(ids[2] as string);
          }
        }
        socket.ws.close();
        // Workers on both servers now claim.
        // Both claim: B's worker takes texts A holds, A's own worker takes the rest.
        await Promise.all([
          startWorker(b.wsUrl, ['--threads', '2']),
          startWorker(a.wsUrl, ['--threads', '2']),
        ]);
        const ids = [...want.keys()].filter((k) => k.includes('-') && !gone.includes(k));
        const bodies = await viaA.waitAll(ids, 16);
        bodies.forEach((body, i) => {
          expect(body.status, `${ids[i]} ${JSON.stringify(body).slice(0, 200)}`).to.equal(
            'COMPLETED',
          );
          expect(JSON.parse(body.result as string)).to.deep.equal(want.get(ids[i] as string));
        });
        const workersA = (await viaA.call<{ completed: number }[]>('GET', '/workers')).body;
        const workersB = (await viaB.call<{ completed: number }[]>('GET', '/workers')).body;
        const done = (ws: { completed: number }[]) => ws.reduce((n, w) => n + w.completed, 0);
        expect(done(workersA), 'A ran some').to.be.greaterThan(0);
        expect(done(workersB), 'B ran some').to.be.greaterThan(0);
        // A cancelled task retried later still runs with its own text.
        const again = gone[0] as string;
        const retried = await viaA.call('POST', `/task/${again}/retry`);
        expect(retried.status, JSON.stringify(retried.body)).to.equal(200);
        const body = await viaA.wait(again);
        expect(JSON.parse(body.result as string)).to.deep.equal(want.get(again));
      });
    });
  });
});
