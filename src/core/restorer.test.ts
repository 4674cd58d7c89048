import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { type Handle } from '../backend/backend.js';
import { MemoryBackend } from '../backend/memory.js';
import { backup } from './archiver.js';
import { Repository } from './repository.js';
import { Restorer } from './restorer.js';

it('a file whose data the index does not know is refused while planning, before anything is created', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'keepsake-restorer-'));
  try {
    const src = path.join(root, 'lib');
    await mkdir(path.join(src, 'album'), { recursive: true });
    await writeFile(path.join(src, 'album', 'a.jpg'), randomBytes(200_000));
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const { snapshot } = await backup(repo, { paths: [src] });
    const dataPacks = new Set([...repo.index.entries()].filter(([, l]) => l.type === 'data').map(([, l]) => l.pack));
    repo.index.removePacks(dataPacks);
    const target = path.join(root, 'out');
    await assert.rejects(new Restorer(repo, { tree: snapshot.tree, treePath: '', target }).run(), /data blob [0-9a-f]{8} of .*a\.jpg is not in the repository index/);
    assert.equal(existsSync(target), false);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it('the tree packs read while planning are let go before the files are written', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'keepsake-restorer-'));
  try {
    const src = path.join(root, 'lib');
    for (const album of ['a', 'b', 'c']) {
      await mkdir(path.join(src, album), { recursive: true });
      await writeFile(path.join(src, album, 'p.jpg'), randomBytes(1000));
    }
    let packLoads = 0;
    const backend = new (class extends MemoryBackend {
      override load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
        if (h.type === 'pack') packLoads++;
        return super.load(h, length, offset);
      }
    })();
    const repo = await Repository.init(backend, 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const { snapshot } = await backup(repo, { paths: [src] });
    await repo.loadTree(snapshot.tree);
    const before = packLoads;
    await repo.loadTree(snapshot.tree);
    assert.equal(packLoads, before, 'a tree read twice comes from the cached pack');
    await new Restorer(repo, { tree: snapshot.tree, treePath: '', target: path.join(root, 'out') }).run();
    const after = packLoads;
    await repo.loadTree(snapshot.tree);
    assert.equal(packLoads, after + 1, 'the restore kept its tree packs');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

it('an --include that matches nothing is an error, not an empty restore, and creates nothing', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'keepsake-restorer-'));
  try {
    const src = path.join(root, 'lib');
    await mkdir(path.join(src, '2019'), { recursive: true });
    await writeFile(path.join(src, '2019', 'a.jpg'), randomBytes(1000));
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const { snapshot } = await backup(repo, { paths: [src] });
    const target = path.join(root, 'out');
    await assert.rejects(new Restorer(repo, { tree: snapshot.tree, treePath: '', target, include: ['/*/2019'] }).run(), /nothing in the snapshot matches --include '\/\*\/2019'/);
    assert.equal(existsSync(target), false);
    const r = await new Restorer(repo, { tree: snapshot.tree, treePath: '', target, include: ['2019'] }).run();
    assert.equal(r.files, 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
