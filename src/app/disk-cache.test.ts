import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { type Handle } from '../backend/backend.js';
import { MemoryBackend } from '../backend/memory.js';
import { backup } from '../core/archiver.js';
import { Repository } from '../core/repository.js';
import { attachCache } from './disk-cache.js';

/** A remote-looking destination that counts what is downloaded, by file type. */
class CountingBackend extends MemoryBackend {
  override readonly location = 'rest:https://example.invalid/repo/';
  loads = new Map<string, number>();
  override async load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    this.loads.set(h.type, (this.loads.get(h.type) ?? 0) + 1);
    return super.load(h, length, offset);
  }
}

async function readEverything(b: CountingBackend, env: NodeJS.ProcessEnv): Promise<string[]> {
  const repo = attachCache(await Repository.open(b, 'pw'), env);
  await repo.loadIndex();
  const [snap] = await repo.snapshots();
  const names: string[] = [];
  const walk = async (tree: string, prefix: string): Promise<void> => {
    for (const n of await repo.loadTree(tree)) {
      names.push(`${prefix}/${n.name}`);
      if (n.subtree) await walk(n.subtree, `${prefix}/${n.name}`);
    }
  };
  await walk(snap!.tree, '');
  return names.sort();
}

it('a remote repository\'s indexes, snapshots and trees are read once, then from the local cache', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-cache-'));
  try {
    const src = path.join(dir, 'photos');
    await mkdir(path.join(src, 'album'), { recursive: true });
    await writeFile(path.join(src, 'album', 'a.jpg'), 'a'.repeat(5000));
    await writeFile(path.join(src, 'b.jpg'), 'b'.repeat(7000));
    const b = new CountingBackend();
    const repo = await Repository.init(b, 'pw', { kdf: { N: 1024, r: 8, p: 1 } });
    await backup(repo, { paths: [src] });
    const env = { KEEPSAKE_CACHE_DIR: path.join(dir, 'cache') };

    b.loads.clear();
    const first = await readEverything(b, env);
    assert.ok((b.loads.get('index') ?? 0) > 0 && (b.loads.get('snapshot') ?? 0) > 0 && (b.loads.get('pack') ?? 0) > 0);

    b.loads.clear();
    assert.deepEqual(await readEverything(b, env), first);
    assert.deepEqual([b.loads.get('index'), b.loads.get('snapshot'), b.loads.get('pack')], [undefined, undefined, undefined]);

    // A damaged cached copy is noticed (its hash) and fetched again.
    const cached = path.join(env.KEEPSAKE_CACHE_DIR, repo.config.id, 'snapshots');
    const [snapFile] = await readdir(cached);
    await writeFile(path.join(cached, snapFile!), 'garbage');
    b.loads.clear();
    assert.deepEqual(await readEverything(b, env), first);
    assert.equal(b.loads.get('snapshot'), 1);

    // Without the cache (or for a local folder) everything comes from the destination.
    b.loads.clear();
    await readEverything(b, { ...env, KEEPSAKE_NO_CACHE: '1' });
    assert.ok((b.loads.get('index') ?? 0) > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
