import assert from 'node:assert/strict';
import { it } from 'node:test';
import { randomKey } from './crypto.js';
import { CorruptError } from './errors.js';
import { hashID } from './hash.js';
import { parseTrailer } from './pack.js';
import { PackBuilder } from './pack-builder.js';

const blob = (s: string) => Buffer.from(s.repeat(200));

it('a finished pack reads back: header and blobs as added', () => {
  const key = randomKey();
  const p = new PackBuilder(key, 'tree');
  for (const s of ['a', 'b', 'c']) assert.equal(p.add(hashID(blob(s)), blob(s), true), true);
  const pack = p.finish();
  assert.equal(pack.id, hashID(pack.data));
  const header = parseTrailer(key, pack.data, pack.data.length);
  assert.deepEqual(header, pack.blobs);
});

it('a pack damaged in memory before upload is refused, not uploaded', () => {
  const key = randomKey();
  const p = new PackBuilder(key, 'tree');
  p.add(hashID(blob('a')), blob('a'), true);
  // What a RAM error or a buffer-reuse bug would do between encryption and upload.
  (p as unknown as { buf: Buffer }).buf[20]! ^= 0x01;
  assert.throws(() => p.finish(), CorruptError);
});
