import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { Chunker, chunkLengths, maxSize, minSize } from './chunker.js';
import { irreducible, randomPolynomial } from './polynomial.js';

interface Golden {
  seed: string;
  size: number;
  fill: { start: number; end: number; value: number };
  polynomial: string;
  lengths: number[];
  ids: string[];
}

const golden = JSON.parse(readFileSync(new URL('../../src/core/testdata/chunker-golden.json', import.meta.url), 'utf8')) as Golden;

/**
 * Chunk lengths of `size` bytes fed to a chunker `read` bytes at a time; `next(from, end)` returns
 * the end of the chunk that ends in [from, end), or -1.
 */
function lengthsInReads(size: number, read: number, next: (from: number, end: number) => number): number[] {
  const lengths: number[] = [];
  let start = 0;
  for (let pos = 0; pos < size; pos += read) {
    const end = Math.min(size, pos + read);
    let from = pos;
    for (;;) {
      const cut = next(from, end);
      if (cut < 0) break;
      lengths.push(cut - start);
      start = from = cut;
    }
  }
  if (start < size) lengths.push(size - start);
  return lengths;
}

function goldenData(): Buffer {
  const key = createHash('sha256').update(golden.seed).digest();
  const data = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(golden.size));
  data.fill(golden.fill.value, golden.fill.start, golden.fill.end);
  return data;
}

it('cuts exactly where restic 0.14 cuts (golden data from the real binary)', () => {
  const data = goldenData();
  const lengths = chunkLengths(BigInt(`0x${golden.polynomial}`), data);
  assert.deepEqual(lengths, golden.lengths);
  let off = 0;
  const ids = lengths.map((l) => {
    const id = createHash('sha256').update(data.subarray(off, off + l)).digest('hex');
    off += l;
    return id;
  });
  assert.deepEqual(ids, golden.ids);
});

it('gives the same cuts however the input is split into reads', () => {
  const data = goldenData().subarray(0, 12 * 1024 * 1024);
  const pol = BigInt(`0x${golden.polynomial}`);
  const whole = chunkLengths(pol, data);
  for (const step of [1000, 65_536, 777_777, 4 * 1024 * 1024]) {
    const c = new Chunker(pol);
    assert.deepEqual(lengthsInReads(data.length, step, (from, end) => c.next(data, from, end)), whole, `step ${step}`);
  }
});

it('respects the minimum and maximum chunk sizes', () => {
  const zeros = Buffer.alloc(20 * 1024 * 1024);
  const lengths = chunkLengths(BigInt(`0x${golden.polynomial}`), zeros);
  for (const l of lengths.slice(0, -1)) assert.ok(l >= minSize && l <= maxSize, `chunk of ${l}`);
  assert.equal(lengths.reduce((a, b) => a + b, 0), zeros.length);
});

it('picks irreducible degree-53 polynomials like restic init', () => {
  assert.equal(irreducible(BigInt(`0x${golden.polynomial}`)), true);
  assert.equal(irreducible(0x3dan * 0x3dan), false); // a product is reducible
  const p = randomPolynomial();
  assert.equal(p.toString(2).length, 54);
  assert.equal(irreducible(p), true);
});

it('the WebAssembly chunker cuts exactly like the reference one, across reads', async () => {
  const { WasmChunker } = await import('./chunker-wasm.js');
  const data = goldenData();
  const w = new WasmChunker(BigInt(`0x${golden.polynomial}`), data.length);
  data.copy(w.data);
  // Reads of at least four 32 KiB blocks let it hash four blocks at once; 100,003-byte reads never do.
  for (const read of [3_000_001, 100_003, 131_072 + 63]) {
    w.reset();
    assert.deepEqual(lengthsInReads(data.length, read, (from, end) => w.next(from, end)), golden.lengths, `reads of ${read} bytes`);
  }
});
