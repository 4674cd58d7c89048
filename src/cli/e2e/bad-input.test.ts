/**
 * Bad input: an unreadable file, a wrong password, a missing repository, a hostile repository whose
 * trees name `..` or `a/b`, and restoring over an existing different file.
 *
 * Unreadable files: the suite runs as root, for whom chmod 000 does not block reading. The backup is
 * therefore run as user `nobody` through setpriv(1) (util-linux), on a library and repository that
 * nobody may use, with one file that nobody may not read. Without setpriv (or when not root, where a
 * plain chmod 000 works) the test adapts; see `asUnprivileged`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { openBackend } from '../../backend/open.js';
import { RepoWriter } from '../../core/repo-writer.js';
import { Repository } from '../../core/repository.js';
import { encodeSnapshot } from '../../core/snapshot.js';
import { ModeDir, type TreeNode } from '../../core/tree.js';
import { cli, jsonLines, lastJson, makeCorpus, password, runCli, tempDir, type RunOptions } from './harness.js';

const nobody = { uid: 65534, gid: 65534 };

/** How to run the CLI so that a chmod 000 file cannot be read, or undefined if we cannot. */
function asUnprivileged(): RunOptions | undefined {
  if (process.getuid?.() !== 0) return {};
  if (spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  return { asUser: nobody };
}

const time = '2024-01-01T00:00:00Z';
function node(name: string, type: 'file' | 'dir', extra: Partial<TreeNode> = {}): TreeNode {
  return { name, type, mode: type === 'dir' ? ModeDir + 0o755 : 0o644, mtime: time, atime: time, ctime: time, uid: 0, gid: 0, content: type === 'file' ? [] : null, ...extra };
}

/** A repository holding one snapshot whose root tree is built by `nodes` (engine functions only). */
async function hostileRepo(dir: string, nodes: (w: RepoWriter) => Promise<TreeNode[]>): Promise<void> {
  await cli(['init', '--repo', dir]);
  const backend = await openBackend(dir, { env: {} });
  try {
    const repo = await Repository.open(backend, password);
    await repo.loadIndex();
    const w = new RepoWriter(repo);
    const tree = await w.saveTree(await nodes(w));
    await w.flush();
    await repo.saveUnpacked('snapshot', encodeSnapshot({ time: '2024-01-01T00:00:00Z', tree, paths: ['/evil'], hostname: 'evil' }));
  } finally {
    await backend.close();
  }
}

describe('bad input', () => {
  let work: string;
  let lib: string;
  let repo: string;

  before(async () => {
    work = await tempDir('bad');
    lib = path.join(work, 'lib');
    makeCorpus(lib, { photos: 12, videos: 0, meanMb: 0.3, seed: 41 });
    repo = path.join(work, 'repo');
    await cli(['init', '--repo', repo]);
    await cli(['backup', '--repo', repo, '--quiet', lib]);
  });

  test('an unreadable file: the snapshot is written without it, the file is reported, exit 3', async (t) => {
    const how = asUnprivileged();
    if (!how) {
      t.skip('running as root without setpriv: cannot make a file unreadable');
      return;
    }
    // Everything nobody needs, nobody may use: the temp folder, the library, a fresh repository.
    const area = path.join(work, 'unprivileged');
    await fs.mkdir(area);
    await fs.chmod(work, 0o755);
    const src = path.join(area, 'src');
    await fs.cp(lib, src, { recursive: true });
    const secret = path.join(src, 'secret.jpg');
    await fs.writeFile(secret, 'no one may read this');
    const r2 = path.join(area, 'repo');
    const home = path.join(area, 'home');
    await fs.mkdir(home);
    if (how.asUser) spawnSync('chown', ['-R', `${nobody.uid}:${nobody.gid}`, area]);
    await fs.chmod(secret, 0o000);
    const env = { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') };
    await cli(['init', '--repo', r2], 0, { ...how, env });
    const r = await cli(['backup', '--repo', r2, '--json', src], 3, { ...how, env });
    const summary = lastJson(r.stdout);
    assert.equal(typeof summary.snapshot_id, 'string', 'the snapshot was written');
    const warnings = summary.warnings as { path: string; kind: string; message: string }[];
    assert.deepEqual(warnings.map((w) => [w.path, w.kind]), [[secret, 'skipped']]);
    assert.match(r.stderr, /secret\.jpg/, 'the file is named on stderr');
    const ls = await cli(['ls', 'latest', '--repo', r2, '--json'], 0, { ...how, env });
    const paths = jsonLines(ls.stdout).map((l) => (l as { path?: string }).path);
    assert.ok(!paths.includes(secret), 'the unreadable file is not in the snapshot');
    assert.ok(paths.some((p) => p?.endsWith('.JPG') || p?.endsWith('.jpg')), 'the readable files are');
  });

  test('a wrong password: exit 12 and a clear message', async () => {
    const r = await runCli(['snapshots', '--repo', repo], { env: { KEEPSAKE_PASSWORD: 'not the password' } });
    assert.equal(r.code, 12, r.stderr);
    assert.match(r.stderr, /wrong password/i);
    const j = await runCli(['snapshots', '--repo', repo, '--json'], { env: { KEEPSAKE_PASSWORD: 'not the password' } });
    assert.equal(j.code, 12);
    assert.equal(lastJson(j.stdout).code, 'wrong-password');
    // A backup starts scanning the folders while it derives the key: the scan must not outlive the refusal.
    const before = readdirSync(path.join(repo, 'snapshots')).length;
    const b = await runCli(['backup', '--repo', repo, lib], { env: { KEEPSAKE_PASSWORD: 'not the password' } });
    assert.equal(b.code, 12, b.stderr);
    assert.match(b.stderr, /wrong password/i);
    assert.equal(readdirSync(path.join(repo, 'snapshots')).length, before, 'no snapshot written');
  });

  test('--repo pointing at nothing: exit 10', async () => {
    for (const args of [['snapshots'], ['backup', lib], ['restore', 'latest', '--target', path.join(work, 'never')], ['check']]) {
      const r = await runCli([...args, '--repo', path.join(work, 'no-such-repo')]);
      assert.equal(r.code, 10, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /no repository/i);
    }
    await assert.rejects(fs.stat(path.join(work, 'no-such-repo')), 'nothing was created');
    await assert.rejects(fs.stat(path.join(work, 'never')), 'no restore target was created');
  });

  for (const evil of [
    { name: '..', label: 'a folder named ..' },
    { name: 'a/b', label: 'a folder named a/b' },
    { name: '../..', label: 'a folder named ../..' },
  ]) {
    test(`a hostile repository with ${evil.label}: restore refuses (exit 1) and writes nothing outside the target`, async () => {
      const dir = await fs.mkdtemp(path.join(work, 'hostile-'));
      const hrepo = path.join(dir, 'repo');
      await hostileRepo(hrepo, async (w) => {
        const inner = await w.saveTree([node('escaped.txt', 'file'), node('a', 'dir', { subtree: await w.saveTree([node('b', 'file')]) })]);
        return [node('innocent.txt', 'file'), node(evil.name, 'dir', { subtree: inner })];
      });
      const box = path.join(dir, 'box');
      const target = path.join(box, 'target');
      await fs.mkdir(box);
      const r = await runCli(['restore', 'latest', '--repo', hrepo, '--target', target]);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /unsafe name/);
      assert.deepEqual(readdirSync(dir).sort(), ['box', 'repo'], 'nothing new next to the box');
      assert.deepEqual(readdirSync(box).filter((n) => n !== 'target'), [], 'nothing next to the target');
      const written = await fs.readdir(target, { recursive: true }).catch(() => []);
      assert.ok(!written.some((p) => p.includes('escaped')), `inside the target: ${written.join(', ')}`);
    });
  }

  test('a hostile file node named .. is refused too', async () => {
    const dir = await fs.mkdtemp(path.join(work, 'hostile-file-'));
    const hrepo = path.join(dir, 'repo');
    await hostileRepo(hrepo, async () => [node('..', 'file')]);
    const r = await runCli(['restore', 'latest', '--repo', hrepo, '--target', path.join(dir, 't')]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(readdirSync(dir).filter((n) => n !== 'repo' && n !== 't'), [], 'nothing next to the target');
    assert.deepEqual(await fs.readdir(path.join(dir, 't')).catch(() => []), [], 'nothing in the target');
  });

  test('restore onto an existing different file: kept without --overwrite (exit 3), replaced with it', async () => {
    const target = path.join(work, 'over');
    await cli(['restore', 'latest', '--repo', repo, '--target', target, '--quiet']);
    const files = (await fs.readdir(path.join(target, lib), { recursive: true })).filter((p) => p.endsWith('.JPG'));
    const victim = path.join(target, lib, files[0]!);
    const original = await fs.readFile(victim);
    await fs.writeFile(victim, 'edited since');
    const r = await runCli(['restore', 'latest', '--repo', repo, '--target', target]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /not overwritten/);
    assert.equal(await fs.readFile(victim, 'utf8'), 'edited since', 'kept');
    const again = await cli(['restore', 'latest', '--repo', repo, '--target', target, '--overwrite', '--json']);
    assert.deepEqual(await fs.readFile(victim), original, 'replaced');
    const s = lastJson(again.stdout);
    assert.equal(s.files_restored, 1, 'only the edited file was written again');
    assert.deepEqual(s.errors, []);
  });
});
