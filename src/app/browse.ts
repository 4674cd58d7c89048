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
  // Reading starts at once; the lock's second look for a competing (exclusive) lock runs meanwhile
  // and must pass before the result counts: see runRestore.
  const lock = await acquireLock(repo, { exclusive: false, early: true });
  try {
    const result = await check(repo, opts);
    await lock.ready;
    return result;
  } finally {
    await lock.release();
  }
}
