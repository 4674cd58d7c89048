import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { foreignLock } from '../core/lock.test-helper.js';
import { Repository } from '../core/repository.js';
import { runBackup } from './backup.js';
import { runRestore } from './restore.js';

it('a restore starts before its lock settles, but fails if a competing exclusive lock turns up meanwhile', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-restore-'));
  try {
    const src = path.join(dir, 'photos');
    await mkdir(src);
    await writeFile(path.join(src, 'a.jpg'), 'a'.repeat(5000));
    const backend = new MemoryBackend();
    await Repository.init(backend, 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    await runBackup(await Repository.open(backend, 'pw'), { paths: [src] });
    const repo = await Repository.open(backend, 'pw');

    const ok = await runRestore(repo, { snapshot: 'latest', target: path.join(dir, 'r1') });
    assert.equal(ok.files, 1);
    assert.equal(await readFile(path.join(dir, 'r1', src, 'a.jpg'), 'utf8'), 'a'.repeat(5000));
    assert.deepEqual(await repo.list('lock'), [], 'the lock is released');

    const running = runRestore(repo, { snapshot: 'latest', target: path.join(dir, 'r2') });
    while ((await repo.list('lock')).length === 0) await new Promise((r) => setImmediate(r));
    // Another machine's prune took its exclusive lock at the same moment.
    await foreignLock(repo, true);
    await assert.rejects(running, /the repository is in use: an exclusive lock held by PID 4242/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
