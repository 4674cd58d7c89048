import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { backup } from '../core/archiver.js';
import { jpeg, jpegImage } from '../core/jpeg.test-helper.js';
import { Repository } from '../core/repository.js';
import { fileBlobs } from './scan.js';

it('predicts the blob IDs a backup stores for a file, JPEG metadata cut included, without a repository', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-blobs-'));
  try {
    const files = {
      'photo.jpg': jpeg(randomBytes(700), jpegImage(60)),
      'small.jpg': jpeg(randomBytes(700), jpegImage(1)),
      'video.mov': randomBytes(5_000_000),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(dir, name), data);
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const r = await backup(repo, { paths: [dir] });
    let tree = r.snapshot.tree;
    for (const name of dir.split('/').filter(Boolean)) tree = (await repo.loadTree(tree)).find((n) => n.name === name)!.subtree!;
    const nodes = await repo.loadTree(tree);
    for (const name of Object.keys(files)) {
      const stored = nodes.find((n) => n.name === name)!.content;
      const data = files[name as keyof typeof files];
      assert.deepEqual(await fileBlobs(path.join(dir, name), repo.config.chunkerPolynomial, data.length), stored, name);
    }
    assert.ok(nodes.find((n) => n.name === 'photo.jpg')!.content!.length >= 2, 'the photo has its metadata cut');
    assert.equal(nodes.find((n) => n.name === 'small.jpg')!.content!.length, 1, 'a photo smaller than a chunk has none');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
