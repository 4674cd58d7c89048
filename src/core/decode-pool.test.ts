import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { type Handle } from '../backend/backend.js';
import { LocalBackend } from '../backend/local.js';
import { backup } from './archiver.js';
import { check } from './checker.js';
import { DecodePool, type DecodeBlob } from './decode-pool.js';
import { Repository } from './repository.js';
import { Restorer } from './restorer.js';

const kdf = { N: 1024, r: 8, p: 1 };

/**
 * A local repository that counts the loads of pack data through it (a pack's header, read to its
 * end, does not count), and may name a wrong file for workers to read.
 */
class CountingLocal extends LocalBackend {
  packLoads = 0;
  misdirect = false;
  /** Packs that hold file data (tree blobs are read by the main thread, one by one). */
  dataPacks = new Set<string>();
  override load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    if (h.type === 'pack' && this.dataPacks.has(h.name) && (length === 0 || offset + length < statSync(super.localFile(h)).size)) this.packLoads++;
    return super.load(h, length, offset);
  }
  override localFile(h: Handle): string {
    return this.misdirect ? `${super.localFile(h)}.gone` : super.localFile(h);
  }
}

async function setUp() {
  const root = await mkdtemp(path.join(tmpdir(), 'keepsake-decode-'));
  const src = path.join(root, 'lib');
  const files = new Map<string, Buffer>();
  for (let i = 0; i < 10; i++) {
    const rel = path.join(`album-${i % 2}`, `IMG_${i}.jpg`);
    const data = randomBytes(150_000 + i * 90_000);
    await mkdir(path.join(src, path.dirname(rel)), { recursive: true });
    await writeFile(path.join(src, rel), data);
    files.set(rel, data);
  }
  const backend = new CountingLocal(path.join(root, 'repo'));
  const repo = await Repository.init(backend, 'pw', { kdf });
  const r = await backup(repo, { paths: [src], packSize: 4 * 1024 * 1024 });
  for (const [, loc] of repo.index.entries()) if (loc.type === 'data') backend.dataPacks.add(loc.pack);
  assert.ok(backend.dataPacks.size >= 2);
  return { root, src, files, backend, repo, tree: r.snapshot.tree };
}

async function restoreAndCompare(repo: Repository, tree: string, src: string, files: Map<string, Buffer>, target: string): Promise<void> {
  await new Restorer(repo, { tree, treePath: '', target }).run();
  for (const [rel, data] of files) assert.ok((await readFile(path.join(target, src, rel))).equals(data), rel);
}

it('on a local disk, restore and check read the packs in the workers, not through the backend; a file the worker cannot read is loaded instead', async () => {
  const { root, src, files, backend, repo, tree } = await setUp();
  try {
    backend.packLoads = 0;
    await restoreAndCompare(repo, tree, src, files, path.join(root, 'out1'));
    assert.deepEqual((await check(repo, { readData: true })).problems, []);
    assert.equal(backend.packLoads, 0, 'packs went through the main thread');

    backend.misdirect = true;
    await restoreAndCompare(repo, tree, src, files, path.join(root, 'out2'));
    assert.deepEqual((await check(repo, { readData: true })).problems, []);
    assert.ok(backend.packLoads > 0, 'the fallback to load() was not taken');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/** A data pack of several blobs in a fresh local repository, and a pool of `workers` to read it with. */
async function withPack(workers: number, fn: (t: { backend: CountingLocal; repo: Repository; pool: DecodePool; pack: string; blobs: DecodeBlob[]; file: string }) => Promise<void>, window?: number): Promise<void> {
  const { root, backend, repo } = await setUp();
  const pool = new DecodePool(repo.key, workers, window);
  try {
    await repo.loadIndex();
    const packs = new Map<string, DecodeBlob[]>();
    for (const [id, loc] of repo.index.entries()) {
      if (loc.type !== 'data') continue;
      let list = packs.get(loc.pack);
      if (!list) packs.set(loc.pack, (list = []));
      list.push({ id, offset: loc.offset, length: loc.length, uncompressedLength: loc.uncompressedLength });
    }
    const [pack, blobs] = [...packs].find(([, l]) => l.length >= 2)!;
    blobs.sort((a, b) => a.offset - b.offset);
    await fn({ backend, repo, pool, pack, blobs, file: backend.localFile({ type: 'pack', name: pack }) });
  } finally {
    await pool.close();
    await rm(root, { recursive: true, force: true });
  }
}

it('a worker reading a pack gives what decoding its loaded bytes gives; damage is found the same way; a short file is a failed read', async () => {
  await withPack(1, async ({ backend, pool, pack, blobs, file }) => {
    const loaded = await backend.load({ type: 'pack', name: pack }, 0, 0);
    const size = loaded.length; // decode() moves the bytes to the worker
    const fromFile = await pool.decodeFile(file, 0, 0, blobs, pack);
    const fromBytes = await pool.decode(loaded, 0, blobs, pack);
    assert.deepEqual({ ...fromFile, seq: 0 }, { ...fromBytes, seq: 0 });
    assert.equal(fromFile.packHashOk, true);
    assert.equal(fromFile.size, size);
    assert.ok(fromFile.errors.every((e) => e === null));
    // A ranged read: the second blob alone.
    const b = blobs[1]!;
    const ranged = await pool.decodeFile(file, b.offset, b.length, [b]);
    assert.deepEqual([ranged.errors, ranged.size], [[null], b.length]);
    // One flipped byte in the second blob.
    const damaged = await readFile(file);
    damaged[b.offset + 40]! ^= 1;
    await writeFile(`${file}.damaged`, damaged);
    const bad = await pool.decodeFile(`${file}.damaged`, 0, 0, blobs, pack);
    assert.equal(bad.packHashOk, false);
    assert.deepEqual(bad.errors.map((e) => e !== null), blobs.map((_, i) => i === 1));
    // Shorter than asked, or missing: nothing is verified, the caller loads instead.
    await truncate(`${file}.damaged`, b.offset + 10);
    assert.equal((await pool.decodeFile(`${file}.damaged`, b.offset, b.length, [b])).readFailed, true);
    assert.equal((await pool.decodeFile(`${file}.missing`, 0, 0, blobs, pack)).readFailed, true);
  });
});

it('a pool started before the key is known refuses work until it is given the key, then verifies', async () => {
  await withPack(1, async ({ repo, pack, blobs, file }) => {
    const early = new DecodePool(undefined, 1);
    try {
      await assert.rejects(early.decodeFile(file, 0, 0, blobs, pack), /given no key/);
      early.useKey(repo.key);
      const r = await early.decodeFile(file, 0, 0, blobs, pack);
      assert.deepEqual([r.packHashOk, r.errors], [true, blobs.map(() => null)]);
    } finally {
      await early.close();
    }
  });
});

for (const window of [64 * 1024, 600_000]) {
  it(`a worker reading a pack ${window / 1024} KiB at a time verifies every blob, in any order asked, and hashes every byte of the pack once`, async () => {
    await withPack(1, async ({ backend, pool, pack, blobs, file }) => {
      assert.ok(blobs.some((b) => b.length > window) || blobs.length > 2, 'the pack must span several windows');
      const loaded = await backend.load({ type: 'pack', name: pack }, 0, 0);
      const size = loaded.length;
      assert.ok(size > 2 * window);
      const reversed = [...blobs].reverse();
      const whole = await pool.decode(loaded, 0, reversed, pack);
      const windowed = await pool.decodeFile(file, 0, 0, reversed, pack);
      assert.deepEqual({ ...windowed, seq: 0 }, { ...whole, seq: 0 });
      assert.deepEqual([windowed.packHashOk, windowed.size, windowed.errors], [true, size, reversed.map(() => null)]);
      // Damage in a blob is that blob's error, in the order the blobs were given.
      const damaged = await readFile(file);
      damaged[blobs[1]!.offset + 40]! ^= 1;
      await writeFile(`${file}.blob`, damaged);
      const bad = await pool.decodeFile(`${file}.blob`, 0, 0, reversed, pack);
      assert.deepEqual([bad.packHashOk, bad.errors.map((e) => e !== null)], [false, reversed.map((b) => b === blobs[1])]);
      // Damage in the pack's header, which no blob covers, is found by the hash alone.
      const header = await readFile(file);
      header[size - 10]! ^= 1;
      await writeFile(`${file}.header`, header);
      const badHeader = await pool.decodeFile(`${file}.header`, 0, 0, blobs, pack);
      assert.deepEqual([badHeader.packHashOk, badHeader.errors], [false, blobs.map(() => null)]);
      // Blobs left out (a gap between those asked for) are hashed all the same.
      const some = blobs.filter((_, i) => i !== 1);
      const gap = await pool.decodeFile(file, 0, 0, some, pack);
      assert.deepEqual([gap.packHashOk, gap.errors], [true, some.map(() => null)]);
      // A range of blobs, read without hashing.
      const last = blobs[blobs.length - 1]!;
      const span = last.offset + last.length - blobs[1]!.offset;
      const ranged = await pool.decodeFile(file, blobs[1]!.offset, span, blobs.slice(1));
      assert.deepEqual([ranged.errors, ranged.size, ranged.packHashOk], [blobs.slice(1).map(() => null), span, undefined]);
    }, window);
  });
}

it('a worker that dies fails what it was given and gets nothing more; with none left, decoding fails instead of waiting forever', async () => {
  await withPack(2, async ({ pool, pack, blobs, file }) => {
    // The workers are private; stopping one from outside stands for a crash.
    const workers = (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots.map((s) => s.worker);
    await workers[0]!.terminate();
    for (let i = 0; i < 3; i++) assert.equal((await pool.decodeFile(file, 0, 0, blobs, pack)).packHashOk, true, 'the other worker does the work');
    await workers[1]!.terminate();
    await assert.rejects(pool.decodeFile(file, 0, 0, blobs, pack), /stopped unexpectedly/);
  });
});
