import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goQuoteInner, goUnquoteInner } from './goquote.js';

// Expected values are what Go's strconv.Quote prints (without the outer quotes).
const vectors: [string, string][] = [
  ['IMG_0001.JPG', 'IMG_0001.JPG'],
  ['a"b\\c', 'a\\"b\\\\c'],
  ['line\nbreak\ttab\r\x07\b\f\v', 'line\\nbreak\\ttab\\r\\a\\b\\f\\v'],
  ['\x00\x1f\x7f', '\\x00\\x1f\\x7f'],
  ['caf\u00e9 cafe\u0301 日本 🙂 <>&', 'caf\u00e9 cafe\u0301 日本 🙂 <>&'],
  ['\u2028\u2029\u00a0\u200b', '\\u2028\\u2029\\u00a0\\u200b'],
  ['\u{e0001}', '\\U000e0001'],
];

test('goQuoteInner matches strconv.Quote', () => {
  for (const [plain, quoted] of vectors) assert.equal(goQuoteInner(plain), quoted, JSON.stringify(plain));
});

test('goUnquoteInner inverts it and rejects invalid syntax', () => {
  for (const [plain, quoted] of vectors) assert.equal(goUnquoteInner(quoted), plain, quoted);
  assert.equal(goUnquoteInner('\\xc3\\xa9\\303\\251'), 'éé', 'byte escapes decode as UTF-8');
  for (const bad of ['a"b', 'a\nb', 'a\\', 'a\\q', "a\\'b", '\\ud800', '\\x4']) assert.equal(goUnquoteInner(bad), undefined, bad);
});
