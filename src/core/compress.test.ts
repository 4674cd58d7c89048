import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decompress as fzDecompress } from 'fzstd';
import { compress, compressChecked, decompress, frameEnd, frameMax, loadZstd } from './compress.js';
import { CorruptError } from './errors.js';

const text = Buffer.from('{"nodes":[{"name":"IMG_0001.JPG","type":"file"}]}\n'.repeat(200));

it('decompresses before the WebAssembly zstd is loaded (pure JS), and refuses to compress', () => {
  assert.throws(() => compress(text), /loadZstd/);
  // `text` as zstd level 3 wrote it.
  const frame = Buffer.from('KLUv/WAQJtUBAOQCeyJub2RlcyI6W3sibmFtZSI6IklNR18wMDAxLkpQRyIsInR5cGZpbGUifV19CgIA26YqPk12PgE=', 'base64');
  assert.deepEqual(Buffer.from(decompress(frame, text.length)), text);
  assert.throws(() => decompress(Buffer.from('not zstd')), CorruptError);
});

it('once loaded, compresses; what it writes reads back with and without it', async () => {
  await loadZstd();
  const z = compress(text);
  assert.ok(z.length < text.length / 10);
  assert.deepEqual(Buffer.from(decompress(z, text.length)), text);
  assert.throws(() => decompress(z, text.length + 1), CorruptError);
});

it('large input is written as frames of frameMax that every decoder reads whole; the frames are found by their headers', async () => {
  await loadZstd();
  const big = Buffer.from('{"name":"IMG_0001.JPG","type":"file","mode":420,"mtime":"2019-07-01T10:00:00Z"},'.repeat(40_000)); // ~3.3 MB
  const z = compress(big);
  const frames: number[] = [];
  for (let at = 0; at < z.length; at = frameEnd(z, at)) frames.push(at);
  assert.equal(frames.length, Math.ceil(big.length / frameMax));
  assert.deepEqual(Buffer.from(decompress(z, big.length)), big); // WebAssembly, frame by frame
  assert.deepEqual(Buffer.from(fzDecompress(z)), big); // the pure-JS decoder restic-like readers fall back to
  assert.deepEqual(Buffer.from(compressChecked(big)), Buffer.from(z));
  // A frame cut short is no frame; the whole is then refused, not read in part.
  assert.throws(() => frameEnd(z.subarray(0, frames[1]! - 1), 0), /truncated/);
  assert.throws(() => decompress(z.subarray(0, z.length - 1), big.length), CorruptError);
  assert.throws(() => frameEnd(Buffer.from('not a zstd frame'), 0), /not a frame/);
});
