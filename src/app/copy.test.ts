import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { check } from '../core/checker.js';
import { Repository } from '../core/repository.js';
import { runBackup } from './backup.js';
import { runCopy } from './copy.js';
import { runRestore } from './restore.js';

const kdf = { N: 1024, r: 8, p: 1 };

it('copy carries every blob of a snapshot larger than a pack: the copy checks clean and restores byte-identical', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-copy-'));
  try {
    const src = path.join(dir, 'photos');
    await mkdir(src);
    // 40 incompressible photos of 1 MiB: more than two packs of 16 MiB.
    const files = Array.from({ length: 40 }, (_, i) => [`IMG_${i}.jpg`, randomBytes(1024 * 1024)] as const);
    for (const [name, bytes] of files) await writeFile(path.join(src, name), bytes);
    const fromBackend = new MemoryBackend();
    const toBackend = new MemoryBackend();
    await Repository.init(fromBackend, 'pw', { kdf });
    const from = await Repository.open(fromBackend, 'pw');
    await Repository.init(toBackend, 'pw2', { kdf, chunkerPolynomial: from.config.chunkerPolynomial });
    await runBackup(from, { paths: [src] });

    const copied = await runCopy(await Repository.open(fromBackend, 'pw'), await Repository.open(toBackend, 'pw2'));
    assert.equal(copied.snapshots, 1);

    const to = await Repository.open(toBackend, 'pw2');
    const result = await check(to, { readData: true });
    assert.deepEqual(result.problems, []);
    await runRestore(to, { snapshot: 'latest', target: path.join(dir, 'r') });
    for (const [name, bytes] of files) assert.deepEqual(await readFile(path.join(dir, 'r', src, name)), bytes, name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
