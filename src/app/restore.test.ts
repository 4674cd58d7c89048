import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { foreignLock } from '../core/lock.test-helper.js';
import { Repository } from '../core/repository.js';
import { runBackup } from './backup.js';
import { RestoreRun, runRestore } from './restore.js';

/** A temporary folder holding photos/NAME, backed up into a fresh in-memory repository (password "pw"). */
async function backedUp(name: string, content: string): Promise<{ dir: string; src: string; backend: MemoryBackend }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-restore-'));
  const src = path.join(dir, 'photos');
  await mkdir(src);
  await writeFile(path.join(src, name), content);
  const backend = new MemoryBackend();
  await Repository.init(backend, 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
  await runBackup(await Repository.open(backend, 'pw'), { paths: [src] });
  return { dir, src, backend };
}

it('a restore starts before its lock settles, but fails if a competing exclusive lock turns up meanwhile', async () => {
  const { dir, src, backend } = await backedUp('a.jpg', 'a'.repeat(5000));
  try {
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

it('a restore run starts its decode workers while the key is derived, restores with them, and stops them when the password is wrong', async () => {
  const { dir, src, backend } = await backedUp('b.jpg', 'b'.repeat(70_000));
  try {

    const run = new RestoreRun();
    try {
      assert.equal(run.started, false);
      const repo = await Repository.open(backend, 'pw', run.keyDerivation, run.onKeyDerivation);
      assert.equal(run.started, true, 'the workers were not started during the key derivation');
      const r = await run.run(repo, { snapshot: 'latest', target: path.join(dir, 'r') });
      assert.equal(r.files, 1);
      assert.equal(await readFile(path.join(dir, 'r', src, 'b.jpg'), 'utf8'), 'b'.repeat(70_000));
    } finally {
      await run.close();
    }

    // A wrong password: the workers started for nothing are stopped.
    const threads = () => readdirSync('/proc/self/task').length;
    const failed = new RestoreRun();
    let during = 0;
    try {
      await assert.rejects(Repository.open(backend, 'wrong', failed.keyDerivation, failed.onKeyDerivation), /wrong password/);
      assert.equal(failed.started, true);
      during = threads();
    } finally {
      await failed.close();
    }
    assert.ok(threads() < during, `${threads()} threads after close(), ${during} before`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
