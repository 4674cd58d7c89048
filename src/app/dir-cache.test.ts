import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { encodeIndex } from '../core/master-index.js';
import { Repository } from '../core/repository.js';
import { Restorer } from '../core/restorer.js';
import { check } from '../core/checker.js';
import { runBackup } from './backup.js';
import { EntryTable } from './dir-cache.js';

const kdf = { N: 1024, r: 8, p: 1 };

async function setup() {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-dircache-'));
  const src = path.join(dir, 'photos');
  for (const album of ['a', 'b', 'c']) {
    await mkdir(path.join(src, album), { recursive: true });
    for (let i = 0; i < 3; i++) await writeFile(path.join(src, album, `${i}.jpg`), `${album}${i}`.repeat(1000));
  }
  const backend = new MemoryBackend();
  await Repository.init(backend, 'pw', { kdf });
  const env = { KEEPSAKE_CACHE_DIR: path.join(dir, 'cache') };
  const backupOnce = async (force = false) => runBackup(await Repository.open(backend, 'pw'), { paths: [src], env, force });
  return { dir, src, backend, backupOnce };
}

async function restoredFile(backend: MemoryBackend, tree: string, file: string): Promise<string> {
  const target = await mkdtemp(path.join(tmpdir(), 'keepsake-dircache-r-'));
  try {
    await new Restorer(await Repository.open(backend, 'pw'), { tree, treePath: '', target }).run();
    return await readFile(path.join(target, file), 'utf8');
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

it('the folder cache reuses unchanged folders and never hides a change', async () => {
  const { dir, src, backend, backupOnce } = await setup();
  try {
    const first = await backupOnce();
    assert.equal(first.summary.filesNew, 9);
    // Reading the files in the first backup moved their access times, which trees record, so the
    // second backup stores new trees (as restic would); from then on the folders are unchanged.
    await backupOnce();
    const second = await backupOnce();
    assert.equal(second.summary.filesUnmodified, 9);
    assert.equal(second.summary.dirsUnmodified, 4); // photos and its three albums, from the cache
    assert.equal(second.summary.bytesRead, 0);

    // Same size, new content and mtime: the album's fingerprint changes, the file is read again.
    const f = path.join(src, 'b', '1.jpg');
    await writeFile(f, 'X'.repeat(2000));
    await utimes(f, new Date(), new Date(Date.now() + 5000));
    const third = await backupOnce();
    assert.equal(third.summary.filesChanged, 1);
    assert.equal(third.summary.filesUnmodified, 8);
    assert.equal(await restoredFile(backend, third.snapshot.tree, path.join(src, 'b', '1.jpg')), 'X'.repeat(2000));

    // --force reads everything, cache or not.
    const forced = await backupOnce(true);
    assert.equal(forced.summary.bytesRead, 9 * 2000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('after the indexes are rewritten (as prune does), cached trees are looked up in the index again', async () => {
  const { dir, backend, backupOnce } = await setup();
  try {
    await backupOnce();
    await backupOnce(); // access times settle: the next backup would reuse every folder (see above)
    // Rewrite the indexes as prune would, leaving out every tree pack: the trees the cache names
    // are gone as far as the repository is concerned.
    const repo = await Repository.open(backend, 'pw');
    await repo.loadIndex();
    const old = await repo.list('index');
    const dataPacks = [...repo.index.packs].filter(([, blobs]) => blobs.every((b) => b.type === 'data'));
    await repo.saveUnpacked('index', encodeIndex(dataPacks.map(([id, blobs]) => ({ id, blobs }))));
    for (const id of old) await backend.remove({ type: 'index', name: id });

    const r = await backupOnce();
    assert.equal(r.summary.dirsUnmodified, 0, 'no cached tree was trusted');
    assert.equal(r.summary.bytesRead, 9 * 2000, 'without parent trees every file is read again');
    assert.equal(r.summary.dataBlobs, 0, 'and deduplicated against the data already stored');
    // The first snapshot lost its trees with the rewrite; the new one must be whole.
    for (const id of await repo.list('snapshot')) if (id !== r.id) await backend.remove({ type: 'snapshot', name: id });
    assert.deepEqual((await check(await Repository.open(backend, 'pw'))).problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('an unchanged backup needs only the top folders; the full cache is read when something below changed', async () => {
  const { dir, src, backend, backupOnce } = await setup();
  try {
    await backupOnce();
    await backupOnce(); // access times settle (see above)
    const repoId = (await Repository.open(backend, 'pw')).config.id;
    const folder = path.join(dir, 'cache', repoId);
    const top = JSON.parse(await readFile(path.join(folder, 'top.json'), 'utf8')) as { dirs: Record<string, unknown>; generation: string };
    assert.deepEqual(Object.keys(top.dirs), [src]);
    const full = JSON.parse(await readFile(path.join(folder, 'dirs.json'), 'utf8')) as { dirs: Record<string, unknown>; generation: string };
    assert.equal(Object.keys(full.dirs).length, 4);
    assert.equal(full.generation, top.generation);

    // Without dirs.json an unchanged library is still reused whole: only top.json is read.
    await rm(path.join(folder, 'dirs.json'));
    const same = await backupOnce();
    assert.equal(same.summary.bytesRead, 0);
    assert.equal(same.summary.dirsUnmodified, 4);

    // A dirs.json from another generation (cut off between the two writes) is not used. To tell,
    // its entries for albums b and c name album a's tree: had they been used, b would restore a's files.
    const rows = full.dirs as Record<string, [string, string, number, number]>;
    const aTree = rows[path.join(src, 'a')]![1];
    const poisoned = { ...rows };
    for (const album of ['b', 'c']) poisoned[path.join(src, album)] = [rows[path.join(src, album)]![0], aTree, 3, 3000];
    await writeFile(path.join(folder, 'dirs.json'), JSON.stringify({ ...full, dirs: poisoned, generation: 'other' }));
    await writeFile(path.join(src, 'a', '0.jpg'), 'Y'.repeat(2000));
    await utimes(path.join(src, 'a', '0.jpg'), new Date(), new Date(Date.now() + 5000));
    const changed = await backupOnce();
    assert.equal(changed.summary.filesChanged, 1);
    assert.equal(await restoredFile(backend, changed.snapshot.tree, path.join(src, 'a', '0.jpg')), 'Y'.repeat(2000));
    assert.equal(await restoredFile(backend, changed.snapshot.tree, path.join(src, 'b', '1.jpg')), 'b1'.repeat(1000));

    // The backup rewrote both files, as one generation again.
    const top2 = JSON.parse(await readFile(path.join(folder, 'top.json'), 'utf8')) as { generation: string };
    const full2 = JSON.parse(await readFile(path.join(folder, 'dirs.json'), 'utf8')) as { dirs: Record<string, [string, string]>; generation: string };
    assert.equal(full2.generation, top2.generation);
    assert.notEqual(full2.dirs[path.join(src, 'b')]![1], full2.dirs[path.join(src, 'a')]![1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('the folder cache\'s table keeps every entry exactly, in order, and refuses IDs it cannot hold', () => {
  const t = new EntryTable();
  const hex = (i: number, salt: string) => createHash('sha256').update(`${salt}${i}`).digest('hex');
  const dirs = Array.from({ length: 1000 }, (_, i) => `/photos/${i % 7 === 0 ? 'Été ☕ ' : ''}${i}`);
  dirs.forEach((d, i) => t.set(d, { fingerprint: hex(i, 'f'), tree: hex(i, 't'), files: i, bytes: 2 ** 50 + i }));
  t.set(dirs[3]!, { fingerprint: hex(3, 'again'), tree: hex(3, 't'), files: 3, bytes: 3 });
  t.set('/photos/bad', { fingerprint: 'not hex', tree: hex(1, 't'), files: 1, bytes: 1 });
  t.set('/photos/short', { fingerprint: hex(1, 'f').slice(2), tree: hex(1, 't'), files: 1, bytes: 1 });
  assert.equal(t.size, 1000);
  assert.deepEqual([...t.keys()], dirs);
  dirs.forEach((d, i) => {
    if (i !== 3) assert.deepEqual(t.get(d), { fingerprint: hex(i, 'f'), tree: hex(i, 't'), files: i, bytes: 2 ** 50 + i }, d);
  });
  assert.deepEqual(t.get(dirs[3]!), { fingerprint: hex(3, 'again'), tree: hex(3, 't'), files: 3, bytes: 3 });
  assert.equal(t.get('/photos/bad'), undefined);
  assert.equal(t.has('/photos/short'), false);
});
