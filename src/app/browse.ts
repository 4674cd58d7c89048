/** Use-cases that read without changing anything: list snapshots, list files of a snapshot, check. */
import { check, type CheckOptions, type CheckResult } from '../core/checker.js';
import { type ID } from '../core/hash.js';
import { acquireLock } from '../core/lock.js';
import { type Repository } from '../core/repository.js';
import { matches, newestFirst, type SnapshotFilter, type StoredSnapshot } from '../core/snapshot.js';
import { type TreeNode } from '../core/tree.js';
import { resolveSubtree } from './restore.js';

export async function listSnapshots(repo: Repository, filter: SnapshotFilter = {}): Promise<StoredSnapshot[]> {
  return (await repo.snapshots()).filter((s) => matches(s, filter)).sort(newestFirst).reverse();
}

export interface ListedNode {
  path: string;
  node: TreeNode;
}

/** Every node below `subpath` of a snapshot, depth first, in name order. */
export async function* listFiles(repo: Repository, snapshot: StoredSnapshot, subpath = '', recursive = true): AsyncGenerator<ListedNode> {
  await repo.loadIndex();
  const clean = subpath.replace(/\/+$/, '');
  const start = await resolveSubtree(repo, snapshot.tree, clean);
  async function* walk(tree: ID, prefix: string): AsyncGenerator<ListedNode> {
    for (const node of await repo.loadTree(tree)) {
      const p = `${prefix}/${node.name}`;
      yield { path: p, node };
      if (recursive && node.type === 'dir' && node.subtree) yield* walk(node.subtree, p);
    }
  }
  yield* walk(start, clean);
}

export async function runCheck(repo: Repository, opts: CheckOptions): Promise<CheckResult> {
  const lock = await acquireLock(repo, { exclusive: false });
  try {
    return await check(repo, opts);
  } finally {
    await lock.release();
  }
}
