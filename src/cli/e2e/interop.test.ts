/**
 * Interoperability with the real restic on a generated photo library: what keepsake writes, restic
 * checks and restores exactly; what restic writes (compressed or not, format v1 or v2), keepsake
 * restores exactly; both tools agree on which files are unchanged and on chunk boundaries.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import {
  addHandMadeFiles, cli, countFiles, diffTrees, hashTree, lastJson, jsonLines, makeCorpus, mutateCorpus, needRestic,
  restic, tempDir, type Entry,
} from './harness.js';

describe('interop with restic', () => {
  let work: string;
  let lib: string;
  let repo: string;
  let snap2: string;
  let source: Map<string, Entry>;

  before(async () => {
    work = await tempDir('interop');
    lib = path.join(work, 'lib');
    makeCorpus(lib, { photos: 40, videos: 2, meanMb: 0.7, seed: 11 });
    await addHandMadeFiles(lib);
    repo = path.join(work, 'ks-repo');
    await cli(['init', '--repo', repo]);
    await cli(['backup', '--repo', repo, lib]);
    mutateCorpus(lib, 12);
    const r = await cli(['backup', '--repo', repo, '--json', lib]);
    snap2 = lastJson(r.stdout).snapshot_id as string;
    assert.ok(lastJson(r.stdout).parent, 'the second backup used the first as parent');
    source = await hashTree(lib);
  });

  test('restic check --read-data passes on a repository keepsake wrote (two backups, mutate between)', async (t) => {
    if (!needRestic(t)) return;
    const r = await restic(['-r', repo, 'check', '--read-data']);
    assert.match(r.stdout, /no errors were found/);
    assert.doesNotMatch(r.stderr, /error|Fatal/i, 'restic check reports nothing bad');
  });

  test('restic restore of a keepsake snapshot is byte-identical, mtimes to the nanosecond', async (t) => {
    if (!needRestic(t)) return;
    const target = path.join(work, 'restic-restored');
    await restic(['-r', repo, 'restore', snap2, '--target', target]);
    const got = await hashTree(path.join(target, lib));
    assert.deepEqual(diffTrees(source, got, { mtimeToleranceNs: 0, modes: true, dirMtimes: true }), []);
  });

  test('restic backup --parent <keepsake snapshot> sees every file as unmodified', async (t) => {
    if (!needRestic(t)) return;
    const files = await countFiles(lib);
    const r = await restic(['-r', repo, 'backup', '--json', '--parent', snap2, lib]);
    const summary = jsonLines(r.stdout).find((l) => (l as { message_type?: string }).message_type === 'summary') as Record<string, number>;
    assert.ok(summary, r.stdout);
    assert.equal(summary.files_new, 0, 'files_new');
    assert.equal(summary.files_changed, 0, 'files_changed');
    assert.equal(summary.files_unmodified, files, 'files_unmodified');
    assert.equal(summary.data_blobs, 0, 'data_blobs');
  });

  for (const variant of [
    { name: 'format v2, compression auto (compressed data blobs)', init: [], backup: [] },
    { name: 'format v2, --compression off', init: [], backup: ['--compression', 'off'] },
    { name: 'format v1', init: ['--repository-version', '1'], backup: [] },
  ]) {
    test(`keepsake restores a repository restic wrote: ${variant.name}`, async (t) => {
      if (!needRestic(t)) return;
      const rrepo = await fs.mkdtemp(path.join(work, 'restic-repo-'));
      await restic(['-r', rrepo, 'init', ...variant.init]);
      await restic(['-r', rrepo, 'backup', ...variant.backup, lib]);
      if (variant.init.length === 0 && variant.backup.length === 0) {
        // Prove this case really covers compressed data blobs.
        const idx = await restic(['-r', rrepo, 'list', 'index']);
        const first = idx.stdout.trim().split('\n')[0]!;
        const index = (await restic(['-r', rrepo, 'cat', 'index', first])).stdout;
        assert.match(index, /"type":"data"[^}]*"uncompressed_length"/, 'restic stored some data blobs compressed');
      }
      const target = path.join(rrepo, '..', `${path.basename(rrepo)}-restored`);
      const r = await cli(['restore', 'latest', '--repo', rrepo, '--target', target, '--json']);
      assert.equal(lastJson(r.stdout).errors instanceof Array && (lastJson(r.stdout).errors as unknown[]).length, 0);
      const got = await hashTree(path.join(target, lib));
      // Node's utimes takes seconds as a double: equal to the microsecond, not the nanosecond.
      assert.deepEqual(diffTrees(source, got, { mtimeToleranceNs: 999, modes: true, dirMtimes: true }), []);
    });
  }

  test('a keepsake backup after a restic backup of the same files adds no data blobs', async (t) => {
    if (!needRestic(t)) return;
    const rrepo = await fs.mkdtemp(path.join(work, 'restic-then-keepsake-'));
    await restic(['-r', rrepo, 'init']);
    await restic(['-r', rrepo, 'backup', lib]);
    // --force: read and chunk every file, so this proves the chunk boundaries are restic's.
    const forced = lastJson((await cli(['backup', '--repo', rrepo, '--force', '--json', lib])).stdout);
    assert.equal(forced.data_blobs, 0, 'data_blobs with --force');
    assert.equal(forced.files_new, await countFiles(lib));
    // Without --force the restic snapshot is the parent: nothing is even read.
    const plain = lastJson((await cli(['backup', '--repo', rrepo, '--json', lib])).stdout);
    assert.equal(plain.data_blobs, 0, 'data_blobs');
    assert.equal(plain.bytes_read, 0, 'bytes_read with restic\'s snapshot as parent');
    await restic(['-r', rrepo, 'check', '--read-data']);
  });
});
