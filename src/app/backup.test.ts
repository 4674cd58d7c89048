import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { foreignLock } from '../core/lock.test-helper.js';
import { Repository } from '../core/repository.js';
import { runBackup } from './backup.js';

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
