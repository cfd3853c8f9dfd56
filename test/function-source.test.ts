import { expect } from 'chai';
import { checkFunctionSource } from '../server/function-source.js';
import { BadPayloadError } from '../shared/errors.js';

describe('checkFunctionSource', () => {
  const good = [
    'function double(n) { return n * 2 }',
    'function (n) { return n * 2 }',
    'async function f(n) { return n }',
    'n => n * 2',
    'async (a, b) => a + b',
    '(x) => { return x } // trailing comment',
    'function f() { return 1 };',
  ];
  for (const source of good) {
    it(`accepts ${source}`, () => {
      expect(checkFunctionSource(source)).to.be.a('string');
    });
  }

  const bad: [string, RegExp][] = [
    ['payload', /identifier/],
    ['(() => 1)()', /call expression/],
    ['function f( {', /not valid JavaScript/],
    ['class A {}', /class/],
    ['function* g() {}', /generator/],
    ['1), (function(){}', /several expressions/],
    ['function a(){}\n); process.exit(1); (function b(){}', /not valid JavaScript|several/],
    ['', /empty/],
    ['42', /literal/],
  ];
  for (const [source, why] of bad) {
    it(`rejects ${JSON.stringify(source)}`, () => {
      expect(() => checkFunctionSource(source))
        .to.throw(BadPayloadError)
        .with.property('message')
        .that.matches(why);
    });
  }
});
