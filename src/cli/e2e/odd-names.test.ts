/**
 * Names and shapes that break naive code: quotes, spaces, a newline, unicode in NFC and NFD (two
 * different files), `<>&` (which Go's JSON escapes), an empty file, a symlink, a 30-level deep tree,
 * an empty folder. Backed up by keepsake, restored by restic and by keepsake: identical.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { cli, diffTrees, hashTree, jsonLines, lastJson, needRestic, restic, tempDir, touchNs, type Entry } from './harness.js';

const names = [
  'he said "cheese" it\'s.jpg',
  '  leading and trailing spaces  ',
  'line\nbreak.txt',
  'caf\u00e9 NFC.txt',
  'cafe\u0301 NFC.txt'.replace('NFC', 'NFD'),
  '<tag> & more.txt',
  '\u2028 line separator \u2029.txt',
  '日本語の写真.jpg',
  '🙂 emoji.png',
  'back\\slash.txt',
  '-starts-with-dash',
  '#%&*?[]{}$`!.txt',
];

async function build(src: string): Promise<void> {
  const odd = path.join(src, 'odd');
  await fs.mkdir(odd, { recursive: true });
  for (const [i, n] of names.entries()) {
    await fs.writeFile(path.join(odd, n), `file ${i}: ${n}\n`.repeat(i * 100 + 1));
  }
  await fs.writeFile(path.join(odd, 'empty file'), '');
  await fs.symlink('../odd/<tag> & more.txt', path.join(odd, 'symlink "to" <tag>'));
  await fs.symlink('/nonexistent/target', path.join(odd, 'dangling link'));
  await fs.symlink('he said "cheese" it\'s.jpg', path.join(odd, 'link with a "quoted" target'));
  await fs.mkdir(path.join(src, 'empty folder'));
  let deep = path.join(src, 'deep');
  for (let i = 0; i < 30; i++) deep = path.join(deep, `level ${i}`);
  await fs.mkdir(deep, { recursive: true });
  await fs.writeFile(path.join(deep, 'bottom.txt'), 'at the bottom\n');
  touchNs(path.join(deep, 'bottom.txt'), '2010-10-10 10:10:10.101010101Z');
  touchNs(path.join(odd, 'line\nbreak.txt'), '2015-01-02 03:04:05.000000999Z');
}

describe('odd names', () => {
  let work: string;
  let src: string;
  let repo: string;
  let snap: string;
  let source: Map<string, Entry>;

  before(async () => {
    work = await tempDir('odd');
    src = path.join(work, 'src');
    await build(src);
    source = await hashTree(src);
    assert.ok(source.has('odd/cafe\u0301 NFD.txt') && source.has('odd/caf\u00e9 NFC.txt'), 'the file system keeps NFC and NFD apart');
    repo = path.join(work, 'repo');
    await cli(['init', '--repo', repo]);
    const r = await cli(['backup', '--repo', repo, '--json', src]);
    snap = lastJson(r.stdout).snapshot_id as string;
  });

  test('keepsake restores them identically (mtimes to the µs, modes)', async () => {
    const target = path.join(work, 'ks-restored');
    await cli(['restore', snap, '--repo', repo, '--target', target]);
    const got = await hashTree(path.join(target, src));
    assert.deepEqual(diffTrees(source, got, { mtimeToleranceNs: 999, modes: true, dirMtimes: true }), []);
  });

  test('restic restores them identically (mtimes to the ns, modes) and checks the repository', async (t) => {
    if (!needRestic(t)) return;
    await restic(['-r', repo, 'check', '--read-data']);
    const target = path.join(work, 'restic-restored');
    await restic(['-r', repo, 'restore', snap, '--target', target]);
    const got = await hashTree(path.join(target, src));
    assert.deepEqual(diffTrees(source, got, { mtimeToleranceNs: 0, modes: true, dirMtimes: true }), []);
  });

  test('keepsake ls lists every odd name exactly', async () => {
    const r = await cli(['ls', snap, '--repo', repo, '--json']);
    const paths = new Set(jsonLines(r.stdout).flatMap((l) => ((l as { struct_type?: string }).struct_type === 'node' ? [(l as { path: string }).path] : [])));
    for (const n of names) assert.ok(paths.has(`${src}/odd/${n}`), `ls shows ${JSON.stringify(n)}`);
  });

  test('restic and keepsake write byte-identical trees for them (but for atimes, which reading changes, and so subtree IDs)', async (t) => {
    if (!needRestic(t)) return;
    const r = await restic(['-r', repo, 'backup', '--json', '--parent', snap, src]);
    const summary = jsonLines(r.stdout).find((l) => (l as { message_type?: string }).message_type === 'summary') as Record<string, number>;
    assert.equal(summary.files_unmodified, [...source.values()].filter((e) => e.type === 'file').length);
    assert.equal(summary.data_blobs, 0);
    const resticSnap = summary.snapshot_id as unknown as string;
    const treeText = async (snapshot: string, sub: string): Promise<string> => {
      const snapJson = JSON.parse((await restic(['-r', repo, 'cat', 'snapshot', snapshot])).stdout) as { tree: string };
      let tree = snapJson.tree;
      for (const name of `${src}/${sub}`.split('/').filter((c) => c !== '')) {
        const nodes = (JSON.parse((await restic(['-r', repo, 'cat', 'blob', tree])).stdout) as { nodes: { name: string; subtree?: string }[] }).nodes;
        tree = nodes.find((n) => n.name === name)!.subtree!;
      }
      return (await restic(['-r', repo, 'cat', 'blob', tree])).stdout.replace(/"(atime|subtree)":"[^"]*"/g, '"$1":"…"');
    };
    const resticId = (await restic(['-r', repo, 'snapshots', '--json', resticSnap])).stdout;
    const full = (JSON.parse(resticId) as { id: string }[])[0]!.id;
    for (const sub of ['odd', 'deep']) {
      assert.equal(await treeText(snap, sub), await treeText(full, sub), `tree of ${sub}`);
    }
  });
});
