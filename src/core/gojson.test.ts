import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatTime, goJson, goString, parseJson, parseTime } from './gojson.js';

it('escapes strings as Go encoding/json does', () => {
  assert.equal(goString('a<b>&c'), '"a\\u003cb\\u003e\\u0026c"');
  assert.equal(goString('line\nbreak\ttab"quote\\'), '"line\\nbreak\\ttab\\"quote\\\\"');
  assert.equal(goString('\b\f\u0001'), '"\\u0008\\u000c\\u0001"');
  assert.equal(goString('back\\b'), '"back\\\\b"');
  assert.equal(goString('\u2028 é 📷'), '"\\u2028 é 📷"');
});

it('keeps uint64 values exact', () => {
  const big = 18446744073709551615n;
  assert.equal(goJson({ inode: big, n: 5 }), '{"inode":18446744073709551615,"n":5}');
  assert.deepEqual(parseJson('{"inode":18446744073709551615,"s":"12345678901234567890","n":7}'), { inode: big, s: '12345678901234567890', n: 7 });
});

it('formats and parses RFC 3339 times with nanoseconds like Go', () => {
  process.env.TZ ??= 'UTC';
  const ns = 1795305588326993479n;
  const s = formatTime(ns);
  assert.equal(parseTime(s), ns);
  assert.equal(parseTime('2026-11-21T23:59:48.3Z'), 1795305588300000000n);
  assert.equal(parseTime('2019-06-25T18:33:48.123456789+02:00'), parseTime('2019-06-25T16:33:48.123456789Z'));
  assert.equal(parseTime('0001-01-01T00:00:00Z'), -62135596800n * 1_000_000_000n);
  assert.match(formatTime(1561480428000000000n), /^2019-06-2\dT\d\d:33:48(Z|[+-]\d\d:\d\d)$/);
});
