import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { foreignLock } from '../core/lock.test-helper.js';
import { Repository } from '../core/repository.js';
import { runBackup } from './backup.js';
import { resolveSubtree } from './restore.js';

it('a backup reads while its lock settles but writes nothing if a competing exclusive lock turns up', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-backup-'));
  try {
    const src = path.join(dir, 'photos');
    await mkdir(src);
    for (let i = 0; i < 20; i++) await writeFile(path.join(src, `${i}.jpg`), Buffer.alloc(1_500_000, i));
    const backend = new MemoryBackend();
    await Repository.init(backend, 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const repo = await Repository.open(backend, 'pw');

    const running = runBackup(repo, { paths: [src] });
    while ((await repo.list('lock')).length === 0) await new Promise((r) => setImmediate(r));
    // Another machine's prune took its exclusive lock at the same moment.
    await foreignLock(repo, true);
    await assert.rejects(running, /the repository is in use: an exclusive lock held by PID 4242/);
    assert.deepEqual(await repo.list('pack'), [], 'no pack was written');
    assert.deepEqual(await repo.list('index'), []);
    assert.deepEqual(await repo.list('snapshot'), []);

    // Once the prune is done, the backup goes through.
    for (const id of await repo.list('lock')) await backend.remove({ type: 'lock', name: id });
    const r = await runBackup(await Repository.open(backend, 'pw'), { paths: [src] });
    assert.equal(r.summary.filesNew, 20);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('photos read since the last backup (their access times moved) leave every folder as stored: no folder walked, no new tree', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-backup-'));
  try {
    const src = path.join(dir, 'photos');
    const files: string[] = [];
    for (let y = 0; y < 4; y++) {
      for (let e = 0; e < 3; e++) {
        const d = path.join(src, `${2020 + y}`, `event-${e}`);
        await mkdir(d, { recursive: true });
        for (let i = 0; i < 3; i++) files.push(path.join(d, `IMG_${i}.JPG`));
        for (const f of files.slice(-3)) await writeFile(f, `${f} `.repeat(200));
      }
    }
    await new Promise((r) => setTimeout(r, 20)); // let the file system's clock move on from the writes
    const backend = new MemoryBackend();
    await Repository.init(backend, 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const env = { KEEPSAKE_CACHE_DIR: path.join(dir, 'cache') };
    const first = await runBackup(await Repository.open(backend, 'pw'), { paths: [src], env });
    // The first backup read every photo; a viewer reads some more (with relatime or strictatime,
    // both move access times).
    for (const f of files.slice(0, 5)) await readFile(f);
    const second = await runBackup(await Repository.open(backend, 'pw'), { paths: [src], env });
    assert.deepEqual([second.summary.dirsChanged, second.summary.dirsNew, second.summary.filesChanged], [0, 0, 0]);
    assert.deepEqual([second.summary.dirsUnmodified, second.summary.filesUnmodified], [1 + 4 + 12, files.length]);
    // The folders above the backed-up one (/, tmp, ...) are recorded anew each time, as restic does.
    const repo = await Repository.open(backend, 'pw');
    const trees = await Promise.all([first.id, second.id].map(async (id) => resolveSubtree(repo, (await repo.loadSnapshot(id)).tree, src)));
    assert.equal(trees[1], trees[0], 'the backed-up folder keeps its stored tree');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
