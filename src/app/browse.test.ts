import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { LocalBackend } from '../backend/local.js';
import { check } from '../core/checker.js';
import { Repository } from '../core/repository.js';
import { runBackup } from './backup.js';
import { CheckRun } from './browse.js';

const kdf = { N: 1024, r: 8, p: 1 };

async function withRepo(fn: (b: LocalBackend) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-browse-'));
  try {
    const src = path.join(dir, 'photos');
    await mkdir(src);
    // 24 incompressible photos of 1 MiB: two data packs of 16 MiB at most, and a tree pack.
    for (let i = 0; i < 24; i++) await writeFile(path.join(src, `IMG_${i}.jpg`), randomBytes(1024 * 1024));
    const backend = new LocalBackend(path.join(dir, 'repo'));
    await Repository.init(backend, 'pw', { kdf });
    await runBackup(await Repository.open(backend, 'pw'), { paths: [src] });
    await fn(backend);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

it('CheckRun derives the key on one core for a full read, on two for a share, and checks clean through its hook', async () => {
  assert.equal(new CheckRun({ readData: true }).keyDerivation, 'lean');
  assert.equal(new CheckRun({ readDataSubset: 0.1 }).keyDerivation, 'fast');
  assert.equal(new CheckRun({}).keyDerivation, 'lean');
  await withRepo(async (backend) => {
    const run = new CheckRun({ readData: true });
    try {
      const repo = await Repository.open(backend, 'pw', run.keyDerivation, run.onKeyDerivation);
      const result = await run.run(repo);
      assert.deepEqual(result.problems, []);
      assert.equal(result.packsRead, result.packs);
      assert.ok(result.packs >= 2);
    } finally {
      await run.close();
    }
  });
});

it('check trusts a pack hashed before only at the size it had then', async () => {
  await withRepo(async (backend) => {
    const repo = await Repository.open(backend, 'pw');
    await repo.loadIndex();
    const sizes = new Map<string, number>();
    for await (const f of backend.list('pack')) sizes.set(f.name, f.size);
    const [first, second] = [...sizes.keys()];
    // Right sizes: clean. A size that differs: that pack is reported, and only that one.
    assert.deepEqual((await check(repo, { readData: true, verifiedPacks: sizes })).problems, []);
    const wrong = new Map(sizes).set(second!, sizes.get(second!)! + 1);
    const r = await check(repo, { readData: true, verifiedPacks: wrong });
    assert.deepEqual(r.problems.map((p) => [p.kind, p.pack]), [['damaged-pack', second]]);
    assert.equal(r.ok, false);
    assert.ok(first !== second);
  });
});
