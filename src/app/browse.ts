/** Use-cases that read without changing anything: list snapshots, list files of a snapshot, check. */
import { type Backend } from '../backend/backend.js';
import { check, type CheckOptions, type CheckResult } from '../core/checker.js';
import { type ID } from '../core/hash.js';
import { type KeyDerivation } from '../core/keys.js';
import { acquireLock } from '../core/lock.js';
import { prehashPacks, type Prehash } from '../core/pack-prehash.js';
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

/**
 * One check of one repository, from before it opens: how its key is derived and what the main
 * thread does meanwhile. Reading all the data, the key is derived on one core (32 MiB) while the
 * main thread hashes local pack files (see prehashPacks), which the check then need not hash
 * again. Reading a share of the packs, which are chosen only once the index is read, the key is
 * derived on two cores (see KeyDerivation). Pass keyDerivation and onKeyDerivation to the opening;
 * close() whether or not the repository opened.
 */
export class CheckRun {
  private prehash?: Prehash;

  constructor(private readonly opts: CheckOptions) {}

  private get readsAll(): boolean {
    return Boolean(this.opts.readData) && this.opts.readDataSubset === undefined;
  }

  get keyDerivation(): KeyDerivation {
    return this.opts.readDataSubset !== undefined ? 'fast' : 'lean';
  }

  readonly onKeyDerivation = (backend: Backend): void => {
    // Just after the derivation has been set going (as EarlyScan).
    queueMicrotask(() => {
      if (this.readsAll) this.prehash ??= prehashPacks(backend);
    });
  };

  async run(repo: Repository): Promise<CheckResult> {
    return runCheck(repo, { ...this.opts, verifiedPacks: await this.prehash?.stop() });
  }

  async close(): Promise<void> {
    await this.prehash?.stop();
  }
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
