import assert from 'node:assert/strict';
import { it } from 'node:test';
import { arrayOf, firstProblem, isInt, isNonNegativeInt, isString, matching, oneOf, shaped, type Fields } from './shape.js';

const fields: Fields = {
  name: isString,
  count: isNonNegativeInt,
  kind: oneOf('a', 'b'),
  id: [matching(/^[0-9a-f]{4}$/), 'optional'],
  list: [arrayOf(isString), 'nullable'],
  parent: [isString, 'nullish'],
  inner: shaped({ n: isInt }),
};
const good = { name: 'x', count: 0, kind: 'a', list: null, inner: { n: -1 }, extra: 'ignored' };

it('accepts what has the shape: optional and nullish fields missing, nullable ones null, unknown fields ignored', () => {
  assert.equal(firstProblem(good, fields), undefined);
  assert.equal(firstProblem({ ...good, id: 'ab12', list: ['p'], parent: null }, fields), undefined);
});

it('names the first field that is missing or wrong', () => {
  assert.equal(firstProblem({ ...good, name: undefined }, fields), 'field "name" is missing');
  assert.equal(firstProblem({ ...good, count: -1 }, fields), 'field "count" is not valid');
  assert.equal(firstProblem({ ...good, count: 1.5 }, fields), 'field "count" is not valid');
  assert.equal(firstProblem({ ...good, kind: 'c' }, fields), 'field "kind" is not valid');
  assert.equal(firstProblem({ ...good, id: 'AB12' }, fields), 'field "id" is not valid');
  assert.equal(firstProblem({ ...good, list: undefined }, fields), 'field "list" is missing');
  assert.equal(firstProblem({ ...good, list: [1] }, fields), 'field "list" is not valid');
  assert.equal(firstProblem({ ...good, id: null }, fields), 'field "id" is not valid');
  assert.equal(firstProblem({ ...good, inner: { n: '1' } }, fields), 'field "inner" is not valid');
  for (const notObject of [null, [], 'x', 3]) assert.equal(firstProblem(notObject, fields), 'not an object');
});
