/**
 * shared/json-bytes.ts vouches for argument bytes without JSON.parse, and
 * heldArgs writes argument JSON without JSON.stringify. Both must agree
 * with V8 exactly: a text vouched for that JSON.parse refuses (or that
 * holds a reference or a lone surrogate) would be stored unchecked, and
 * bytes that differ from JSON.stringify's would be another task's
 * arguments. Property tests against V8 itself (fast-check prints the seed
 * of a failure and replays it), plus the word-scan's edges.
 */

import { expect } from 'chai';
import fc from 'fast-check';
import { isPlainJsonArray, isPlainStringBody } from '../shared/json-bytes.js';
import { heldArgs, isWellFormed, serializeArgs } from '../shared/serialize.js';

/** What a payload must be for the server to store it unparsed. */
function parsesAsPlainArray(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  if (!Array.isArray(value) || !isWellFormed(text)) return false;
  return !value.some(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, '$task'),
  );
}

/** `text` as bytes at `offset` inside a larger buffer: a frame's view, at any alignment. */
function viewAt(text: string, offset: number): Buffer {
  const bytes = Buffer.from(text);
  const frame = Buffer.alloc(offset + bytes.length + 3, 0x20);
  bytes.copy(frame, offset);
  return frame.subarray(offset, offset + bytes.length);
}

/** Characters that matter to JSON, often: quotes, escapes, controls, surrogates, multi-byte. */
const tricky = fc.constantFrom(
  '"',
  '\\',
  '\\u',
  '\n',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '😀',
  '\ud800',
  '$task',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  ' ',
  '0',
  '-',
  'e',
  'x',
);

const longText = fc
  .tuple(fc.integer({ min: 0, max: 300 }), fc.array(fc.tuple(fc.nat(), tricky), { maxLength: 3 }))
  .map(([n, inserts]) => {
    let s = 'x'.repeat(n);
    for (const [at, c] of inserts) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + c + s.slice(i);
    }
    return s;
  });

describe('json-bytes: vouching for argument bytes without JSON.parse', () => {
  it('vouches for the plain shapes map() sends and refuses what JSON.parse refuses', () => {
    const vouched = [
      '[]',
      ' [ ]\n',
      '[1,-0.5e+3,true,false,null]',
      '["a","é😀",{"k":[{}],"x":"\\n\\"\\\\\\/\\b\\f\\r\\t"}]',
      `["${'x'.repeat(100_000)}"]`,
    ];
    for (const text of vouched)
      expect(isPlainJsonArray(viewAt(text, 1)), text.slice(0, 40)).to.equal(true);
    const refused = [
      '',
      '{}',
      '"x"',
      '[01]',
      '[1,]',
      '[1.]',
      '[.5]',
      '[1e]',
      '[-]',
      '[tru]',
      '[true',
      '[1] x',
      '[1]]',
      '[}',
      '{"a":1]',
      '[{"a"}]',
      '[{,}]',
      '["a\tb"]',
      '["\\x"]',
      '["\\u0041"]',
      '[{"$task":"x"}]',
      '\ufeff[]',
      `["${'x'.repeat(1000)}\u0001"]`,
      `[${'['.repeat(65)}${']'.repeat(65)}]`,
    ];
    for (const text of refused)
      expect(isPlainJsonArray(viewAt(text, 3)), text.slice(0, 40)).to.equal(false);
  });

  it('never vouches for a text JSON.parse refuses, or one with a reference or a lone surrogate', () => {
    const mutated = fc
      .tuple(
        fc.jsonValue({ maxDepth: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.oneof(tricky, fc.constant(''))), { maxLength: 4 }),
        fc.integer({ min: 0, max: 7 }),
      )
      .map(([value, edits, offset]) => {
        let text = JSON.stringify([value]);
        for (const [at, c] of edits) {
          const i = at % (text.length + 1);
          // '' deletes a character; anything else is inserted.
          text =
            c === '' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + c + text.slice(i);
        }
        return { text, offset };
      });
    fc.assert(
      fc.property(mutated, ({ text, offset }) => {
        if (!isWellFormed(text)) return; // bytes: the server's isUtf8 refuses these first
        if (isPlainJsonArray(viewAt(text, offset)))
          expect(parsesAsPlainArray(text), text).to.equal(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('vouches for every JSON array of values with no \\u escape and no $task', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 5 })),
        fc.integer({ min: 0, max: 7 }),
        (value, offset) => {
          const text = JSON.stringify(value);
          if (text.includes('\\u') || text.includes('$task')) return;
          expect(isPlainJsonArray(viewAt(text, offset)), text).to.equal(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('finds a quote, backslash or control byte at every position and alignment of a long string', () => {
    for (const special of ['"', '\\', '\u0000', '\u001f', '\n']) {
      for (let at = 0; at < 80; at++) {
        for (let offset = 0; offset < 4; offset++) {
          const body = `${'x'.repeat(at)}${special}${'y'.repeat(80 - at)}`;
          const bytes = viewAt(`[${body}]`, offset);
          expect(
            isPlainStringBody(bytes, 1, bytes.length - 1),
            `${JSON.stringify(special)} at ${at}`,
          ).to.equal(false);
        }
      }
    }
    const clean = viewAt(`[${'x\u007fé '.repeat(100)}]`, 1);
    expect(isPlainStringBody(clean, 1, clean.length - 1)).to.equal(true);
  });
});

describe('heldArgs: argument JSON written without JSON.stringify', () => {
  it('gives exactly the bytes of JSON.stringify for any argument list', () => {
    const longString = fc
      .tuple(fc.integer({ min: 16 * 1024, max: 17 * 1024 }), longText)
      .map(([n, s]) => 'y'.repeat(n) + s);
    const element = fc.oneof(
      longString,
      fc.string(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 2 }),
    );
    fc.assert(
      fc.property(fc.array(element, { maxLength: 4 }), (args) => {
        const held = heldArgs(args);
        const text = typeof held === 'string' ? held : held.toString('utf8');
        expect(text).to.equal(serializeArgs(args));
      }),
      { numRuns: 300 },
    );
  });

  it('writes a long plain string as it is, between quotes, as bytes', () => {
    const text = 'é'.repeat(20_000);
    const held = heldArgs([text, 1, null]);
    expect(Buffer.isBuffer(held)).to.equal(true);
    expect(held.toString()).to.equal(JSON.stringify([text, 1, null]));
  });
});
