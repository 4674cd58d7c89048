import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { decodeBlob } from './blob.js';
import { compressChecked, loadZstd } from './compress.js';
import { randomKey } from './crypto.js';
import { CorruptError } from './errors.js';
import { hashID } from './hash.js';
import { parseTrailer } from './pack.js';
import { PackBuilder, type Staging } from './pack-builder.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'keepsake-pack-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const staging: Staging = { dir, prefix: 'test' };

const blob = (s: string) => Buffer.from(s.repeat(200));

it('a finished pack file reads back: ID, header and every blob as added', () => {
  const key = randomKey();
  const p = new PackBuilder(key, 'data', staging);
  // Small blobs share the write buffer; a 3 MiB one is larger than it.
  const blobs = [blob('a'), randomBytes(3 * 1024 * 1024), blob('b'), randomBytes(700 * 1024), blob('c')];
  for (const b of blobs) assert.equal(p.add(hashID(b), b, false), true);
  const pack = p.finish();
  const data = readFileSync(pack.file);
  assert.equal(data.length, pack.size);
  assert.equal(pack.id, hashID(data));
  const header = parseTrailer(key, data, data.length);
  const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown; // undefined fields left out
  assert.deepEqual(plain(header), plain(pack.blobs));
  pack.blobs.forEach((b, i) => assert.deepEqual(decodeBlob(key, b.id, data.subarray(b.offset, b.offset + b.length), b.uncompressedLength), blobs[i]));
  rmSync(pack.file);
});

it('a pack ends at its target size; the blob that does not fit starts the next', () => {
  const key = randomKey();
  const p = new PackBuilder(key, 'data', staging, 1024 * 1024);
  const b = randomBytes(300 * 1024);
  assert.equal(p.add(hashID(b), b, false), true);
  assert.equal(p.add(hashID(b), b, false), true);
  assert.equal(p.add(hashID(b), b, false), false);
  const first = p.finish();
  assert.equal(first.blobs.length, 2);
  assert.equal(p.add(hashID(b), b, false), true);
  const second = p.finish();
  assert.notEqual(second.file, first.file);
  assert.equal(second.blobs[0]!.offset, 0);
  rmSync(first.file);
  rmSync(second.file);
});

it('a tree pack damaged in memory before it is written is refused, and its file removed', () => {
  const key = randomKey();
  const p = new PackBuilder(key, 'tree', { dir, prefix: 'damaged' });
  p.add(hashID(blob('a')), blob('a'), true);
  // What a RAM error or a buffer-reuse bug would do between encryption and upload.
  (p as unknown as { buf: Buffer }).buf[20]! ^= 0x01;
  assert.throws(() => p.finish(), CorruptError);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('damaged')), []);
});

it('discard drops the pack being assembled and its file', () => {
  const p = new PackBuilder(randomKey(), 'data', { dir, prefix: 'dropped' });
  p.add(hashID(blob('a')), blob('a'), false);
  (p as unknown as { writeOut(): void }).writeOut();
  assert.equal(readdirSync(dir).filter((n) => n.startsWith('dropped')).length, 1);
  p.discard();
  assert.equal(p.count, 0);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('dropped')), []);
});

it('a tree blob compressed elsewhere is stored compressed when smaller, checked against what was compressed', async () => {
  await loadZstd();
  const key = randomKey();
  const p = new PackBuilder(key, 'tree', { dir, prefix: 'elsewhere' });
  const tree = blob('{"nodes":[]}');
  const incompressible = randomBytes(4096);
  assert.ok(p.addCompressed(hashID(tree), tree, compressChecked(tree)));
  assert.ok(p.addCompressed(hashID(incompressible), incompressible, compressChecked(incompressible)));
  const done = p.finish();
  const bytes = readFileSync(done.file);
  const [a, b] = done.blobs;
  assert.equal(a!.uncompressedLength, tree.length);
  assert.equal(b!.uncompressedLength, undefined, 'stored as it was: compression made it larger');
  assert.deepEqual(decodeBlob(key, a!.id, bytes.subarray(a!.offset, a!.offset + a!.length), a!.uncompressedLength), tree);
  assert.deepEqual(decodeBlob(key, b!.id, bytes.subarray(b!.offset, b!.offset + b!.length), b!.uncompressedLength), incompressible);
  rmSync(done.file);

  const damaged = new PackBuilder(key, 'tree', { dir, prefix: 'damaged-z' });
  damaged.addCompressed(hashID(tree), tree, compressChecked(tree));
  (damaged as unknown as { buf: Buffer }).buf[40]! ^= 0x01;
  assert.throws(() => damaged.finish(), CorruptError);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('damaged-z')), []);
});
