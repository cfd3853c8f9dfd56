/**
 * Finding `{"$task": id}` elements in an argument payload at submit: the
 * element scanner agrees with JSON.parse on every shape of text, and a
 * malformed reference is a BadPayloadError naming the argument.
 */

import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { elementSpans, findReferences, referencedIds } from '../server/task-references.js';
import { BadPayloadError } from '../shared/errors.js';
import { Prng } from './chaos/prng.js';

const NASTY = ['', '"', '\\', ',', ']', '[', '}', '{', 'é', '😀', '\n', '\\"]', '$task', ' , '];

function value(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 2 ? 4 : 7));
  switch (pick) {
    case 0:
      return Math.floor(random() * 1e6) / 7;
    case 1:
      return NASTY[Math.floor(random() * NASTY.length)] ?? '';
    case 2:
      return random() < 0.5 ? null : random() < 0.5;
    case 3:
      return -0.5e-7;
    case 4:
      return Array.from({ length: Math.floor(random() * 4) }, () => value(random, depth + 1));
    case 5:
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 3) }, (_, i) => [
          `${NASTY[i] ?? 'k'}${i}`,
          value(random, depth + 1),
        ]),
      );
    default:
      return { $task: randomUUID() };
  }
}

describe('task references', () => {
  it('splits an argument array into the same elements JSON.parse finds, however it is spaced', () => {
    const prng = new Prng(Number(process.env.TASKGRID_TEST_SEED ?? 7));
    const random = (): number => prng.next();
    for (let n = 0; n < 500; n++) {
      const args = Array.from({ length: Math.floor(random() * 6) }, () => value(random, 0));
      for (const text of [
        JSON.stringify(args),
        JSON.stringify(args, null, n % 3),
        ` \n${JSON.stringify(args, null, '\t')} `,
      ]) {
        const spans = elementSpans(text);
        expect(
          spans.map(([s, e]) => JSON.parse(text.slice(s, e))),
          text,
        ).to.deep.equal(args);
      }
    }
  });

  it('finds top-level references only, with their places, and each id once', () => {
    const a = randomUUID();
    const b = randomUUID();
    const args = [1, { $task: a }, [{ $task: b }], { $task: b }, { $task: a }, { $tasks: 1 }];
    const text = JSON.stringify(args, null, 1);
    const refs = findReferences(text, JSON.parse(text)) ?? [];
    expect(refs.map((r) => r.id)).to.deep.equal([a, b, a]);
    for (const r of refs)
      expect(JSON.parse(text.slice(r.start, r.end))).to.deep.equal({ $task: r.id });
    expect(referencedIds(refs)).to.deep.equal([a, b]);
    expect(findReferences('[1, {"a": 2}, [3]]', [1, { a: 2 }, [3]])).to.equal(undefined);
  });

  it('refuses a malformed reference, naming the argument', () => {
    const id = randomUUID();
    for (const [args, pattern] of [
      [[1, { $task: 'nope' }], /argument 1 .*UUID.*`nope`/],
      [[{ $task: 5 }], /argument 0 .*got number/],
      [[{ $task: id, more: 1 }], /argument 0 .*no other key/],
      [[{ $task: [id] }], /got object/],
    ] as const) {
      const text = JSON.stringify(args);
      expect(() => findReferences(text, JSON.parse(text)), text)
        .to.throw(BadPayloadError)
        .with.property('message')
        .that.matches(pattern);
    }
  });
});
