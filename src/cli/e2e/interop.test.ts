/**
 * Interoperability with the real restic on a generated photo library: what keepsake writes, restic
 * checks and restores exactly; what restic writes (compressed or not, format v1 or v2), keepsake
 * restores exactly; both tools agree on which files are unchanged and on chunk boundaries (but for
 * the extra cut keepsake makes where a JPEG's metadata ends).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { chunkLengths } from '../../core/chunker.js';
import { firstChunkCut } from '../../core/jpeg.js';
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
    // A folder whose tree (~350 KB of JSON) is stored as two zstd frames (frameMax): restic reads it.
    const burst = path.join(lib, 'Burst');
    await fs.mkdir(burst);
    for (let i = 0; i < 1000; i++) await fs.writeFile(path.join(burst, `IMG_${String(i).padStart(4, '0')}.JPG`), `burst ${i}`);
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

  test('a keepsake backup after a restic backup of the same files adds only the JPEG metadata cuts', async (t) => {
    if (!needRestic(t)) return;
    const rrepo = await fs.mkdtemp(path.join(work, 'restic-then-keepsake-'));
    await restic(['-r', rrepo, 'init']);
    await restic(['-r', rrepo, 'backup', lib]);
    // --force: read and chunk every file. The chunk boundaries are restic's, plus one cut inside the
    // first chunk of JPEGs where their metadata ends: exactly the blobs that predicts are new.
    const pol = BigInt(`0x${(JSON.parse((await restic(['-r', rrepo, 'cat', 'config'])).stdout) as { chunker_polynomial: string }).chunker_polynomial}`);
    const resticBlobs = new Set<string>();
    const keepsakeBlobs = new Set<string>();
    for (const file of await listFiles(lib)) {
      const data = await fs.readFile(file);
      const lengths = chunkLengths(pol, data);
      const m = firstChunkCut(data.length, data);
      let off = 0;
      for (const [i, len] of lengths.entries()) {
        const chunk = data.subarray(off, off + len);
        resticBlobs.add(sha256(chunk));
        if (i === 0 && m > 0 && m < len) for (const piece of [chunk.subarray(0, m), chunk.subarray(m)]) keepsakeBlobs.add(sha256(piece));
        else keepsakeBlobs.add(sha256(chunk));
        off += len;
      }
    }
    const expected = [...keepsakeBlobs].filter((id) => !resticBlobs.has(id)).length;
    assert.ok(expected > 0, 'the library has JPEGs with metadata larger than a chunk');
    const forced = lastJson((await cli(['backup', '--repo', rrepo, '--force', '--json', lib])).stdout);
    assert.equal(forced.data_blobs, expected, 'data_blobs with --force: the metadata cuts, nothing else');
    assert.equal(forced.files_new, await countFiles(lib));
    // Without --force the restic snapshot is the parent: nothing is even read.
    const plain = lastJson((await cli(['backup', '--repo', rrepo, '--json', lib])).stdout);
    assert.equal(plain.data_blobs, 0, 'data_blobs');
    assert.equal(plain.bytes_read, 0, 'bytes_read with restic\'s snapshot as parent');
    await restic(['-r', rrepo, 'check', '--read-data']);
  });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
