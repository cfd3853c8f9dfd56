import { expect } from 'chai';
import { BadPayloadError } from '../shared/errors.js';
import { checkArgsPayload, deserialize, serialize, serializeArgs } from '../shared/serialize.js';

describe('serialize / deserialize', () => {
  it('round-trips JSON values', () => {
    for (const value of [2, 'a', null, [1, { b: true }], { x: [1, 2] }]) {
      expect(deserialize(serialize(value))).to.deep.equal(value);
    }
  });
  it('writes undefined as null', () => {
    expect(serialize(undefined)).to.equal('null');
  });
  it('writes argument lists', () => {
    expect(serializeArgs([2, 'x'])).to.equal('[2,"x"]');
  });
  it('accepts only JSON text of an array as arguments', () => {
    expect(checkArgsPayload('[2]')).to.equal('[2]');
    expect(() => checkArgsPayload('2')).to.throw(BadPayloadError, /argument array/);
    expect(() => checkArgsPayload('{"a":1}')).to.throw(BadPayloadError, /JSON object/);
    expect(() => checkArgsPayload('[2')).to.throw(BadPayloadError, /not JSON/);
  });
});
