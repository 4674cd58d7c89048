/**
 * A repository written by restic 0.14 (committed under testdata/): keepsake must open it with the
 * password, read every object, and re-encode its trees byte for byte.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalBackend } from '../backend/local.js';
import { check } from './checker.js';
import { KeepsakeError } from './errors.js';
import { Repository } from './repository.js';
import { Restorer } from './restorer.js';
import { encodeTree } from './tree.js';

const fixture = fileURLToPath(new URL('../../src/core/testdata/restic-repo', import.meta.url));
const password = 'keepsake-fixture';

it('opens a restic repository, re-encodes its trees byte-identically, restores and checks it', async () => {
  const repo = await Repository.open(new LocalBackend(fixture), password);
  assert.equal(repo.config.version, 2);
  await repo.loadIndex();
  const [snap] = await repo.snapshots();
  assert.ok(snap);
  assert.deepEqual(snap.paths, ['/tmp/fx/src']);
  const root = await repo.loadTree(snap.tree);
  const srcTree = root[0]!.subtree!;
  const raw = await repo.loadBlob('tree', srcTree);
  assert.equal(encodeTree(await repo.loadTree(srcTree)).toString(), raw.toString());
  const hello = (await repo.loadTree(srcTree)).find((n) => n.name === 'hello.txt')!;
  assert.equal(hello.mtime, '2019-06-25T16:33:48.123456789Z');

  const target = await mkdtemp(path.join(tmpdir(), 'keepsake-fixture-'));
  try {
    const r = await new Restorer(repo, { tree: snap.tree, treePath: '', target }).run();
    assert.equal(r.errors.length, 0);
    const dir = path.join(target, 'src');
    assert.equal(await readFile(path.join(dir, 'hello.txt'), 'utf8'), 'hello from restic\n');
    assert.equal(await readlink(path.join(dir, 'link')), 'hello.txt');
    assert.equal((await stat(path.join(dir, 'empty'))).size, 0);
    const json = JSON.parse(await readFile(path.join(dir, 'sub', 'json.txt'), 'utf8')) as { a: number[] };
    assert.equal(json.a.length, 2000);
    const st = await stat(path.join(dir, 'hello.txt'), { bigint: true });
    assert.ok(st.mtimeNs / 1000n === 1561480428123456n, `mtime restored to the microsecond (${st.mtimeNs})`);
  } finally {
    await rm(target, { recursive: true, force: true });
  }
  const c = await check(repo, { readData: true });
  assert.deepEqual(c.problems, []);
});

it('refuses a wrong password with a typed error', async () => {
  await assert.rejects(Repository.open(new LocalBackend(fixture), 'not it'), (e: unknown) => e instanceof KeepsakeError && e.code === 'wrong-password');
});
