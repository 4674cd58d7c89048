import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import { CorruptError } from './errors.js';
import { MasterIndex } from './master-index.js';
import { type PackedBlob } from './pack.js';

const id = (n: number | string) => createHash('sha256').update(String(n)).digest('hex');
const blob = (n: number, offset: number, extra: Partial<PackedBlob> = {}): PackedBlob => ({ type: 'data', id: id(n), offset, length: 100 + n, ...extra });

it('finds every one of 60,000 blobs in 600 packs, and none that is not there', () => {
  const idx = new MasterIndex();
  for (let p = 0; p < 600; p++) {
    idx.addPack(id(`pack${p}`), Array.from({ length: 100 }, (_, i) => blob(p * 100 + i, i * 1000, i % 7 === 0 ? { type: 'tree', uncompressedLength: 5000 + i } : {})));
  }
  assert.equal(idx.size, 60_000);
  assert.equal(idx.packs.size, 600);
  for (let n = 0; n < 60_000; n += 7) {
    const p = Math.floor(n / 100);
    const i = n % 100;
    const want = { pack: id(`pack${p}`), type: i % 7 === 0 ? 'tree' : 'data', offset: i * 1000, length: 100 + n, ...(i % 7 === 0 ? { uncompressedLength: 5000 + i } : {}) };
    assert.deepEqual(idx.get(id(n)), want);
  }
  for (let n = 60_000; n < 61_000; n++) assert.equal(idx.has(id(n)), false);
  assert.equal(idx.has('not an id'), false);
  assert.equal(idx.has('ab'.repeat(31) + 'zz'), false);
  assert.equal([...idx.entries()].length, 60_000);
  assert.deepEqual(idx.packs.get(id('pack3'))!.map((b) => b.id), Array.from({ length: 100 }, (_, i) => id(300 + i)));
  // By row: the same blob, and packs numbered in the order they were added.
  for (let n = 0; n < 60_000; n += 997) {
    const row = idx.rowOf(id(n));
    assert.ok(row >= 0);
    assert.equal(idx.idAt(row), id(n));
    assert.deepEqual(idx.locationAt(row), idx.get(id(n)));
    assert.deepEqual([idx.packNumberAt(row), idx.offsetAt(row), idx.typeAt(row)], [Math.floor(n / 100), (n % 100) * 1000, idx.get(id(n))!.type]);
  }
  assert.equal(idx.rowOf(id(60_001)), -1);
});

it('a blob in two packs is found in the first; each pack lists what its index says; a pack listed twice counts once', () => {
  const idx = new MasterIndex();
  idx.addPack(id('a'), [blob(1, 0), blob(2, 200)]);
  idx.addPack(id('b'), [blob(2, 0), blob(3, 300)]);
  idx.addPack(id('a'), [blob(1, 0), blob(2, 200)]);
  assert.equal(idx.size, 3);
  assert.equal(idx.get(id(2))!.pack, id('a'));
  assert.deepEqual(idx.packs.get(id('b')), [blob(2, 0), blob(3, 300)]);
  assert.deepEqual(idx.packs.get(id('a')), [blob(1, 0), blob(2, 200)]);
  assert.equal(idx.packs.has(id('c')), false);
  assert.deepEqual([...idx.packs.keys()], [id('a'), id('b')]);

  // Prune removed pack a: blob 2 lives on in pack b, blob 1 is gone.
  idx.removePacks(new Set([id('a')]));
  assert.equal(idx.size, 2);
  assert.equal(idx.has(id(1)), false);
  assert.equal(idx.get(id(2))!.pack, id('b'));
  assert.deepEqual([...idx.packs], [[id('b'), [blob(2, 0), blob(3, 300)]]]);
});

it('an index naming a blob with a malformed ID is refused', () => {
  const idx = new MasterIndex();
  assert.throws(() => idx.addPack(id('p'), [blob(1, 0), { type: 'data', id: 'x'.repeat(64), offset: 0, length: 40 }]), CorruptError);
  assert.equal(idx.size, 0);
  assert.equal(idx.packs.has(id('p')), false);
});
