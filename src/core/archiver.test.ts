import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { BackendError, type Handle } from '../backend/backend.js';
import { MemoryBackend } from '../backend/memory.js';
import { type DirCache, type DirCacheEntry } from './archive-target.js';
import { backup, backupMany } from './archiver.js';
import { check } from './checker.js';
import { jpeg, jpegImage } from './jpeg.test-helper.js';
import { Repository } from './repository.js';
import { Restorer } from './restorer.js';
import { type TreeNode } from './tree.js';

const kdf = { N: 1024, r: 8, p: 1 };

/** A destination that stops accepting writes after a number of saves, as a server that goes away. */
class VanishingBackend extends MemoryBackend {
  saves = 0;
  constructor(private readonly allowed: number) {
    super();
  }
  override async save(h: Handle, data: Uint8Array): Promise<void> {
    if (h.type === 'pack' && ++this.saves > this.allowed) throw new BackendError('permanent', 'the server went away');
    return super.save(h, data);
  }
}

async function library(): Promise<{ dir: string; files: Map<string, string> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-arch-'));
  const files = new Map<string, string>();
  for (let i = 0; i < 12; i++) {
    const rel = path.join(`album-${i % 3}`, `photo-${i}.jpg`);
    const data = randomBytes(200_000 + i * 150_000);
    await mkdir(path.join(dir, path.dirname(rel)), { recursive: true });
    await writeFile(path.join(dir, rel), data);
    files.set(rel, createHash('sha256').update(data).digest('hex'));
  }
  return { dir, files };
}

async function restoredHashes(repo: Repository, tree: string, under: string): Promise<Map<string, string>> {
  const target = await mkdtemp(path.join(tmpdir(), 'keepsake-arch-r-'));
  try {
    await new Restorer(repo, { tree, treePath: '', target }).run();
    const out = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      const rel = path.join(`album-${i % 3}`, `photo-${i}.jpg`);
      out.set(rel, createHash('sha256').update(await readFile(path.join(target, under, rel))).digest('hex'));
    }
    return out;
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

it('one pass feeds several destinations; each gets a complete, checkable snapshot', async () => {
  const { dir, files } = await library();
  try {
    const a = await Repository.init(new MemoryBackend(), 'a', { kdf });
    const b = await Repository.init(new MemoryBackend(), 'b', { kdf, chunkerPolynomial: a.config.chunkerPolynomial });
    const results = await backupMany([{ repo: a }, { repo: b }], { paths: [dir], packSize: 1024 * 1024 });
    for (const [i, repo] of [a, b].entries()) {
      const r = results[i]!;
      assert.ok(r.ok, `destination ${i}`);
      assert.equal(r.summary.filesNew, 12);
      assert.deepEqual((await check(repo, { readData: true })).problems, []);
      assert.deepEqual(await restoredHashes(repo, r.snapshot.tree, dir), files);
    }
    // The two repositories have different keys, so their packs differ, but the same blobs.
    const ids = (r: Repository) => [...r.index.entries()].map(([id]) => id).sort();
    assert.deepEqual(ids(a), ids(b));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('destinations whose folder trees part (one reuses a stored tree) each get their own tree of the folder above, the rest shared', async () => {
  const { dir, files } = await library();
  try {
    const a = await Repository.init(new MemoryBackend(), 'a', { kdf });
    const b = await Repository.init(new MemoryBackend(), 'b', { kdf, chunkerPolynomial: a.config.chunkerPolynomial });
    const seen = new Map<string, DirCacheEntry>();
    const recording: DirCache = { trusted: true, get: () => undefined, set: (d, e) => seen.set(d, e) };
    await backupMany([{ repo: a, dirCache: recording }, { repo: b }], { paths: [dir], packSize: 1024 * 1024 });
    // Both caches name a stored tree for every album (so the albums are not walked), but A's says
    // album-1 is stored as album-0's tree (a tree A has): the two destinations' trees of the folder
    // part there. The folder itself is left out, so it is walked.
    const cache = (entries: Map<string, DirCacheEntry>): DirCache => ({ trusted: true, get: (d) => entries.get(d), set: () => undefined });
    const forB = new Map(seen);
    forB.delete(dir);
    const forA = new Map(forB);
    forA.set(path.join(dir, 'album-1'), { ...seen.get(path.join(dir, 'album-1'))!, tree: seen.get(path.join(dir, 'album-0'))!.tree });
    const [ra, rb] = await backupMany([{ repo: a, dirCache: cache(forA) }, { repo: b, dirCache: cache(forB) }], { paths: [dir], packSize: 1024 * 1024 });
    if (!ra?.ok || !rb?.ok) return assert.fail('both destinations complete');
    const folder = async (repo: Repository, tree: string): Promise<TreeNode[]> => {
      let nodes = await repo.loadTree(tree);
      for (const c of dir.split(path.sep).filter(Boolean)) nodes = await repo.loadTree(nodes.find((n) => n.name === c)!.subtree!);
      return nodes;
    };
    const na = await folder(a, ra.snapshot.tree);
    const nb = await folder(b, rb.snapshot.tree);
    assert.deepEqual(na.map((n) => n.name), ['album-0', 'album-1', 'album-2']);
    assert.equal(na[1]!.subtree, seen.get(path.join(dir, 'album-0'))!.tree, 'A took the tree its cache named');
    assert.notEqual(nb[1]!.subtree, na[1]!.subtree);
    // Before the entry where they part, and in every field but that subtree, the two agree.
    assert.deepEqual({ ...na[1], subtree: undefined }, { ...nb[1], subtree: undefined });
    for (const repo of [a, b]) assert.deepEqual((await check(repo, { readData: true })).problems, []);
    assert.deepEqual(await restoredHashes(b, rb.snapshot.tree, dir), files);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('a destination that fails mid-backup drops out; the others complete', async () => {
  const { dir, files } = await library();
  try {
    const good = await Repository.init(new MemoryBackend(), 'g', { kdf });
    const vanishing = new VanishingBackend(2);
    const bad = await Repository.init(vanishing, 'b', { kdf, chunkerPolynomial: good.config.chunkerPolynomial });
    const [rg, rb] = await backupMany([{ repo: good }, { repo: bad }], { paths: [dir], packSize: 512 * 1024 });
    assert.ok(rg!.ok);
    assert.deepEqual(await restoredHashes(good, rg!.snapshot.tree, dir), files);
    assert.equal(rb!.ok, false);
    assert.match(String((rb as { error: Error }).error.message), /went away/);
    // What did arrive is indexed and consistent: no snapshot, no dangling references.
    const again = await Repository.open(vanishing, 'b');
    assert.equal((await again.snapshots()).length, 0);
    assert.deepEqual((await check(again, { readData: true })).problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('refuses destinations with different chunker parameters in one pass', async () => {
  const a = await Repository.init(new MemoryBackend(), 'a', { kdf });
  const b = await Repository.init(new MemoryBackend(), 'b', { kdf });
  await assert.rejects(backupMany([{ repo: a }, { repo: b }], { paths: ['.'] }), /chunker/);
});

it('a JPEG metadata edit stores only the metadata: the first chunk is cut where EXIF/XMP/IPTC end', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-arch-jpeg-'));
  try {
    const image = jpegImage(50);
    const photo = (exif: Buffer) => jpeg(exif, image);
    const file = path.join(dir, 'IMG_0001.JPG');
    await writeFile(file, photo(Buffer.alloc(900, 1)));
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf });
    const first = await backup(repo, { paths: [dir] });
    assert.ok(first.summary.dataBlobs >= 2, 'the metadata and the rest');

    // The edit changes the metadata and its length; the image bytes move but are unchanged.
    await writeFile(file, photo(Buffer.alloc(1400, 2)));
    const parent = await repo.findSnapshot('latest');
    const second = await backup(repo, { paths: [dir], parent });
    assert.equal(second.summary.filesChanged, 1);
    assert.equal(second.summary.dataBlobs, 1, 'only the new metadata blob');
    // The metadata and the new tree: a few KiB, where storing the whole first chunk again is 512 KiB or more.
    assert.ok(second.summary.dataAdded < 8192, `${second.summary.dataAdded} bytes added`);

    const target = await mkdtemp(path.join(tmpdir(), 'keepsake-arch-jpeg-r-'));
    try {
      await new Restorer(repo, { tree: second.snapshot.tree, treePath: '', target }).run();
      assert.ok((await readFile(path.join(target, file))).equals(photo(Buffer.alloc(1400, 2))));
    } finally {
      await rm(target, { recursive: true, force: true });
    }
    assert.deepEqual((await check(repo, { readData: true })).problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('several targets, side by side and nested, are each walked once and all stored (the workers stop only after the last)', async () => {
  const { dir, files } = await library();
  try {
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf });
    const albums = [0, 1, 2].map((i) => path.join(dir, `album-${i}`));
    for (const paths of [albums, [albums[1]!, dir, albums[0]!]]) {
      const r = await backup(repo, { paths, packSize: 1024 * 1024 });
      assert.equal(r.summary.totalFilesProcessed, 12);
      assert.deepEqual(await restoredHashes(repo, r.snapshot.tree, dir), files);
    }
    assert.deepEqual((await check(repo, { readData: true })).problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
