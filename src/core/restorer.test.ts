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

/**
 * A library of `files` (relative path → size in random bytes) backed up into a repository on
 * `backend`; `fn` gets the repository, the snapshot's tree and a target path that does not exist yet.
 */
async function withSnapshot(files: Record<string, number>, fn: (t: { repo: Repository; tree: string; target: string }) => Promise<void>, backend = new MemoryBackend()): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'keepsake-restorer-'));
  try {
    const src = path.join(root, 'lib');
    for (const [rel, size] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, rel)), { recursive: true });
      await writeFile(path.join(src, rel), randomBytes(size));
    }
    const repo = await Repository.init(backend, 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const { snapshot } = await backup(repo, { paths: [src] });
    await fn({ repo, tree: snapshot.tree, target: path.join(root, 'out') });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

it('a file whose data the index does not know is refused while planning, before anything is created', async () => {
  await withSnapshot({ 'album/a.jpg': 200_000 }, async ({ repo, tree, target }) => {
    const dataPacks = new Set([...repo.index.entries()].filter(([, l]) => l.type === 'data').map(([, l]) => l.pack));
    repo.index.removePacks(dataPacks);
    await assert.rejects(new Restorer(repo, { tree, treePath: '', target }).run(), /data blob [0-9a-f]{8} of .*a\.jpg is not in the repository index/);
    assert.equal(existsSync(target), false);
  });
});

it('the tree packs read while planning are let go before the files are written', async () => {
  let packLoads = 0;
  const backend = new (class extends MemoryBackend {
    override load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
      if (h.type === 'pack') packLoads++;
      return super.load(h, length, offset);
    }
  })();
  await withSnapshot({ 'a/p.jpg': 1000, 'b/p.jpg': 1000, 'c/p.jpg': 1000 }, async ({ repo, tree, target }) => {
    await repo.loadTree(tree);
    const before = packLoads;
    await repo.loadTree(tree);
    assert.equal(packLoads, before, 'a tree read twice comes from the cached pack');
    await new Restorer(repo, { tree, treePath: '', target }).run();
    const after = packLoads;
    await repo.loadTree(tree);
    assert.equal(packLoads, after + 1, 'the restore kept its tree packs');
  }, backend);
});

it('an --include that matches nothing is an error, not an empty restore, and creates nothing', async () => {
  await withSnapshot({ '2019/a.jpg': 1000 }, async ({ repo, tree, target }) => {
    await assert.rejects(new Restorer(repo, { tree, treePath: '', target, include: ['/*/2019'] }).run(), /nothing in the snapshot matches --include '\/\*\/2019'/);
    assert.equal(existsSync(target), false);
    const r = await new Restorer(repo, { tree, treePath: '', target, include: ['2019'] }).run();
    assert.equal(r.files, 1);
  });
});
