/**
 * The everyday commands on a real library: restoring one folder, restoring by pattern, `ls`,
 * `snapshots --json`, passwords (`key add`, `key list`, `key passwd`, `key remove`), and
 * `check --read-data-subset`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import {
  cli, diffTrees, hashTree, hasRestic, jsonLines, lastJson, makeCorpus, mutateCorpus, password, runCli, restic, tempDir, type Entry,
} from './harness.js';

describe('everyday commands', () => {
  let work: string;
  let lib: string;
  let repo: string;
  let source: Map<string, Entry>;
  const snaps: string[] = [];

  before(async () => {
    work = await tempDir('features');
    lib = path.join(work, 'lib');
    makeCorpus(lib, { photos: 30, videos: 1, meanMb: 0.6, seed: 51 });
    repo = path.join(work, 'repo');
    await cli(['init', '--repo', repo]);
    snaps.push(lastJson((await cli(['backup', '--repo', repo, '--json', '--tag', 'first', lib])).stdout).snapshot_id as string);
    mutateCorpus(lib, 52);
    snaps.push(lastJson((await cli(['backup', '--repo', repo, '--json', lib])).stdout).snapshot_id as string);
    source = await hashTree(lib);
  });

  test('restore latest:/abs/path/sub restores that folder\'s content', async () => {
    const sub = [...source].find(([p, e]) => e.type === 'dir' && /^\d{4}$/.test(p))![0];
    const target = path.join(work, 'sub');
    await cli(['restore', `latest:${lib}/${sub}`, '--repo', repo, '--target', target]);
    const want = await hashTree(path.join(lib, sub));
    assert.ok(want.size > 0);
    assert.deepEqual(diffTrees(want, await hashTree(target), { mtimeToleranceNs: 999, modes: true, dirMtimes: true }), []);
    const missing = await runCli(['restore', `latest:${lib}/no such folder`, '--repo', repo, '--target', path.join(work, 'x')]);
    assert.notEqual(missing.code, 0);
  });

  test('restore --include \'*.jpg\' restores exactly the matching files', async () => {
    const target = path.join(work, 'jpg');
    await cli(['restore', 'latest', '--repo', repo, '--target', target, '--include', '*.jpg']);
    const got = await hashTree(path.join(target, lib));
    const wantFiles = [...source].filter(([p, e]) => e.type === 'file' && p.endsWith('.jpg'));
    const gotFiles = [...got].filter(([, e]) => e.type === 'file');
    assert.ok(wantFiles.length > 0 && wantFiles.length < [...source.values()].filter((e) => e.type === 'file').length);
    assert.deepEqual(gotFiles.map(([p]) => p).sort(), wantFiles.map(([p]) => p).sort());
    for (const [p, e] of gotFiles) assert.equal(e.sha256, source.get(p)!.sha256, p);
    // Folders: those on the way to a photo, and no others (a folder of videos alone is not made).
    const wantDirs = new Set(wantFiles.flatMap(([p]) => p.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
    const allDirs = [...source].filter(([, e]) => e.type === 'dir').map(([p]) => p);
    assert.ok(allDirs.some((d) => !wantDirs.has(d)), 'the library needs a folder without photos');
    assert.deepEqual([...got].filter(([, e]) => e.type === 'dir').map(([p]) => p).sort(), [...wantDirs].sort());
    // A pattern that matches nothing says so and fails, instead of "restored 0 files".
    const none = await runCli(['restore', 'latest', '--repo', repo, '--target', path.join(work, 'none'), '--include', '*.nothing']);
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /nothing in the snapshot matches --include '\*\.nothing'/);
  });

  test('ls lists every file and folder of a snapshot, with sizes', async () => {
    const r = await cli(['ls', 'latest', '--repo', repo, '--json']);
    const lines = jsonLines(r.stdout) as { struct_type: string; path?: string; type?: string; size?: number; id?: string }[];
    assert.equal(lines[0]!.struct_type, 'snapshot');
    assert.equal(lines[0]!.id, snaps[1]);
    const nodes = new Map(lines.filter((l) => l.struct_type === 'node').map((l) => [l.path!, l]));
    for (const [p, e] of source) {
      const n = nodes.get(`${lib}/${p}`);
      assert.ok(n, `ls shows ${p}`);
      assert.equal(n.type, e.type === 'symlink' ? 'symlink' : e.type, p);
      if (e.type === 'file') assert.equal(n.size ?? 0, e.size, p);
    }
    const plain = await cli(['ls', snaps[0]!.slice(0, 8), `${lib}`, '--repo', repo, '--no-recursive']);
    assert.ok(plain.stdout.split('\n').filter(Boolean).every((l) => path.dirname(l) === lib), plain.stdout);
  });

  test('snapshots --json lists both snapshots, oldest first, with their fields', async () => {
    const list = JSON.parse((await cli(['snapshots', '--repo', repo, '--json'])).stdout) as Record<string, unknown>[];
    assert.deepEqual(list.map((s) => s.id), snaps);
    for (const s of list) {
      assert.equal(s.short_id, (s.id as string).slice(0, 8));
      assert.deepEqual(s.paths, [lib]);
      assert.match(s.tree as string, /^[0-9a-f]{64}$/);
      assert.match(s.time as string, /^\d{4}-\d\d-\d\dT/);
    }
    assert.deepEqual(list[0]!.tags, ['first']);
    const tagged = JSON.parse((await cli(['snapshots', '--repo', repo, '--json', '--tag', 'first'])).stdout) as unknown[];
    assert.equal(tagged.length, 1);
  });

  test('key add: the new password opens the repository, the old one still does', async () => {
    const added = await cli(['key', 'add', '--repo', repo, '--json'], 0, { env: { KEEPSAKE_NEW_PASSWORD: 'a second password' } });
    assert.equal(lastJson(added.stdout).message_type, 'key_added');
    const withNew = await cli(['snapshots', '--repo', repo, '--json'], 0, { env: { KEEPSAKE_PASSWORD: 'a second password' } });
    assert.equal((JSON.parse(withNew.stdout) as unknown[]).length, 2);
    await cli(['snapshots', '--repo', repo]);
    const keys = JSON.parse((await cli(['key', 'list', '--repo', repo, '--json'])).stdout) as unknown[];
    assert.equal(keys.length, 2);
    if (hasRestic()) await restic(['-r', repo, 'snapshots'], 0, { env: { RESTIC_PASSWORD: 'a second password' } });
  });

  test('key list shows each key\'s scrypt settings; key passwd replaces the password in use; key remove another', async () => {
    type Key = { id: string; current: boolean; kdf: { N: number; r: number; p: number }; weak: boolean };
    const listed = JSON.parse((await cli(['key', 'list', '--repo', repo, '--json'])).stdout) as Key[];
    assert.equal(listed.length, 2, 'the key of init and the one key add made');
    for (const k of listed) {
      assert.equal(k.weak, false);
      assert.deepEqual({ N: k.kdf.N, r: k.kdf.r }, { N: 32768, r: 8 });
      assert.ok(k.kdf.p >= 3, `p=${k.kdf.p}: below the minimum`);
    }
    const second = listed.find((k) => !k.current)!;
    const third = { env: { KEEPSAKE_PASSWORD: 'a third password' } };
    const changed = lastJson((await cli(['key', 'passwd', '--repo', repo, '--json'], 0, { env: { KEEPSAKE_NEW_PASSWORD: 'a third password' } })).stdout);
    assert.equal(changed.message_type, 'key_changed');
    assert.equal(changed.removed, listed.find((k) => k.current)!.id);
    assert.equal((await runCli(['snapshots', '--repo', repo])).code, 12, 'the replaced password no longer opens it');
    const self = await runCli(['key', 'remove', (changed.added as string).slice(0, 8), '--repo', repo], third);
    assert.equal(self.code, 2);
    assert.match(self.stderr, /cannot remove itself/);
    await cli(['key', 'remove', second.id.slice(0, 8), '--repo', repo], 0, third);
    assert.equal((await runCli(['snapshots', '--repo', repo], { env: { KEEPSAKE_PASSWORD: 'a second password' } })).code, 12);
    const left = JSON.parse((await cli(['key', 'list', '--repo', repo, '--json'], 0, third)).stdout) as Key[];
    assert.deepEqual(left.map((k) => k.id), [changed.added]);
    if (hasRestic()) await restic(['-r', repo, 'snapshots'], 0, { env: { RESTIC_PASSWORD: 'a third password' } });
    // Back to the suite's password for the tests after this one.
    await cli(['key', 'passwd', '--repo', repo], 0, { env: { KEEPSAKE_PASSWORD: 'a third password', KEEPSAKE_NEW_PASSWORD: password } });
  });

  test('check --read-data-subset 50% reads about half of the packs', async () => {
    const full = lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout);
    const half = lastJson((await cli(['check', '--repo', repo, '--read-data-subset', '50%', '--json'])).stdout);
    assert.equal(half.ok, true);
    assert.equal(full.packsRead, full.packs);
    assert.equal(half.packsRead, Math.ceil((half.packs as number) / 2));
    const bad = await runCli(['check', '--repo', repo, '--read-data-subset', '150%']);
    assert.equal(bad.code, 2, 'a share above 100% is a usage error');
  });
});

test('--json output larger than a pipe holds (64 KiB) arrives whole before the process exits', async () => {
  const work = await tempDir('big-json');
  const lib = path.join(work, 'lib');
  await mkdir(lib);
  for (let i = 0; i < 800; i++) await writeFile(path.join(lib, `IMG_${String(i).padStart(4, '0')} from the summer holiday at the lake.jpg`), randomBytes(100));
  const repo = path.join(work, 'repo');
  await cli(['init', '--repo', repo]);
  await cli(['backup', '--repo', repo, '--quiet', lib]);
  const r = await cli(['ls', '--repo', repo, 'latest', '--json']);
  assert.ok(r.stdout.length > 2 * 65536, `only ${r.stdout.length} bytes: the listing should be larger than the pipe`);
  const names = jsonLines(r.stdout).map((e) => (e as { name?: string }).name);
  assert.equal(names.filter((n) => n?.startsWith('IMG_')).length, 800);
});

test('restore writes a library of more files than the process may have open at once', async () => {
  const work = await tempDir('many-files');
  const lib = path.join(work, 'lib');
  await mkdir(lib);
  // 1,500 small photos in one folder: they share a few packs, whose blobs go to many files at once.
  for (let i = 0; i < 1500; i++) await writeFile(path.join(lib, `IMG_${String(i).padStart(4, '0')}.jpg`), randomBytes(2000 + (i % 7) * 300));
  const repo = path.join(work, 'repo');
  await cli(['init', '--repo', repo]);
  await cli(['backup', '--repo', repo, '--quiet', lib]);
  const target = path.join(work, 'restored');
  // Node raises its own soft limit to the hard limit; 256 is the hard limit here.
  const r = await runCli(['restore', '--repo', repo, 'latest', '--target', target], { maxOpenFiles: 256 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(diffTrees(await hashTree(lib), await hashTree(path.join(target, lib)), { mtimeToleranceNs: 999, modes: true }), []);
});
