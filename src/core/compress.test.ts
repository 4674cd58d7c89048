import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compress, decompress, loadZstd } from './compress.js';
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
