/**
 * The attic: before snapshots are forgotten, every file content that only they hold is gathered into
 * one new snapshot tagged `attic`, at the path it last had (newest forgotten snapshot first). Nothing
 * is read or uploaded but trees: the attic points at the blobs already stored. Two different contents
 * that last lived at the same path both stay; the older gets its snapshot time in its name.
 */
import os from 'node:os';
import { formatTime, nowNanos } from './gojson.js';
import { type ID } from './hash.js';
import { RepoWriter } from './repo-writer.js';
import { type Repository } from './repository.js';
import { atticTag } from './retention.js';
import { encodeSnapshot, newestFirst, type StoredSnapshot } from './snapshot.js';
import { type TreeNode } from './tree.js';

const key = (n: TreeNode) => (n.content ?? []).join('');

interface Dir {
  node?: TreeNode;
  dirs: Map<string, Dir>;
  files: Map<string, TreeNode>;
}

export interface AtticResult {
  snapshot?: ID;
  files: number;
  paths: string[];
}

/** Every file content of these snapshots. */
async function contentsOf(repo: Repository, snaps: readonly StoredSnapshot[]): Promise<Set<string>> {
  const out = new Set<string>();
  const seen = new Set<ID>();
  const walk = async (tree: ID): Promise<void> => {
    if (seen.has(tree)) return;
    seen.add(tree);
    for (const n of await repo.loadTree(tree)) {
      if (n.type === 'dir' && n.subtree) await walk(n.subtree);
      else if (n.type === 'file') out.add(key(n));
    }
  };
  for (const s of snaps) await walk(s.tree);
  return out;
}

/** Build and store the attic for `remove` (kept: `keep`). The index must be loaded. */
export async function saveAttic(repo: Repository, keep: readonly StoredSnapshot[], remove: readonly StoredSnapshot[], opts: { hostname?: string } = {}): Promise<AtticResult> {
  const kept = await contentsOf(repo, keep);
  const root: Dir = { dirs: new Map(), files: new Map() };
  const taken = new Set<string>();
  const paths: string[] = [];
  const targets = new Set<string>();
  const seenTrees = new Set<ID>();
  for (const s of [...remove].sort(newestFirst)) {
    const walk = async (tree: ID, at: Dir, prefix: string): Promise<void> => {
      // A tree seen in a newer forgotten snapshot was fully gathered there.
      if (seenTrees.has(tree)) return;
      seenTrees.add(tree);
      for (const n of await repo.loadTree(tree)) {
        if (n.type === 'dir' && n.subtree) {
          let d = at.dirs.get(n.name);
          if (!d) at.dirs.set(n.name, (d = { node: n, dirs: new Map(), files: new Map() }));
          await walk(n.subtree, d, `${prefix}/${n.name}`);
        } else if (n.type === 'file' && !kept.has(key(n)) && !taken.has(key(n))) {
          taken.add(key(n));
          let name = n.name;
          if (at.files.has(name) || at.dirs.has(name)) {
            const dot = name.lastIndexOf('.');
            const stamp = s.time.slice(0, 19).replace(/:/g, '-');
            name = dot > 0 ? `${name.slice(0, dot)} (${stamp})${name.slice(dot)}` : `${name} (${stamp})`;
          }
          at.files.set(name, { ...n, name });
          paths.push(`${prefix}/${name}`);
          for (const p of s.paths) targets.add(p);
        }
      }
    };
    await walk(s.tree, root, '');
  }
  if (paths.length === 0) return { files: 0, paths };
  const writer = new RepoWriter(repo);
  const save = async (d: Dir): Promise<ID | undefined> => {
    const nodes: TreeNode[] = [...d.files.values()];
    for (const child of d.dirs.values()) {
      const sub = await save(child);
      if (sub) nodes.push({ ...child.node!, subtree: sub });
    }
    return nodes.length === 0 ? undefined : writer.saveTree(nodes);
  };
  const tree = (await save(root)) ?? (await writer.saveTree([]));
  await writer.flush();
  const user = os.userInfo();
  const id = await repo.saveUnpacked('snapshot', encodeSnapshot({
    time: formatTime(nowNanos()),
    tree,
    paths: [...targets].sort(),
    hostname: opts.hostname ?? os.hostname(),
    username: user.username,
    uid: user.uid >= 0 ? user.uid : undefined,
    gid: user.gid >= 0 ? user.gid : undefined,
    tags: [atticTag],
    programVersion: 'keepsake attic',
  }));
  return { snapshot: id, files: paths.length, paths: paths.sort() };
}
