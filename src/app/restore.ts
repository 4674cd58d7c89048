/** Use-case: restore a snapshot, a folder of it, or files matching patterns, into a target folder. */
import { DecodePool } from '../core/decode-pool.js';
import { KeepsakeError } from '../core/errors.js';
import { type ID } from '../core/hash.js';
import { type KeyDerivation } from '../core/keys.js';
import { acquireLock } from '../core/lock.js';
import { type Repository } from '../core/repository.js';
import { Restorer, type RestoreProgress, type RestoreSummary } from '../core/restorer.js';
import { isSafeName } from '../core/tree.js';

export interface RestoreRequest {
  /** `latest`, an ID or prefix, optionally followed by `:/path/inside/snapshot`. */
  snapshot: string;
  target: string;
  include?: string[];
  overwrite?: boolean;
  host?: string;
  onProgress?: (p: RestoreProgress) => void;
  onWarning?: (path: string, message: string) => void;
  /** Decode workers already started (see RestoreRun). */
  pool?: DecodePool;
}

export interface RestoreOutcome extends RestoreSummary {
  snapshot: ID;
  subpath: string;
}

/** Follow `/a/b` from a snapshot's root tree to the subtree of folder b. */
export async function resolveSubtree(repo: Repository, root: ID, subpath: string): Promise<ID> {
  let tree = root;
  for (const name of subpath.split('/').filter((c) => c !== '')) {
    if (!isSafeName(name)) throw new KeepsakeError('invalid-argument', `bad path component ${JSON.stringify(name)}`);
    const node = (await repo.loadTree(tree)).find((n) => n.name === name);
    if (!node) throw new KeepsakeError('not-found', `${subpath} is not in the snapshot`);
    if (node.type !== 'dir' || !node.subtree) throw new KeepsakeError('invalid-argument', `${subpath} is not a folder; restore it with --include`);
    tree = node.subtree;
  }
  return tree;
}

export async function runRestore(repo: Repository, req: RestoreRequest): Promise<RestoreOutcome> {
  // The restore starts reading at once instead of after the lock's 200 ms settling pause: it writes
  // nothing to the repository, and every blob it restores is checked against its ID. The second look
  // for a competing lock (a prune that started at the same moment) runs meanwhile; if it finds one,
  // the restore reports that error instead of success.
  const lock = await acquireLock(repo, { exclusive: false, early: true });
  try {
    await repo.loadIndex();
    const colon = req.snapshot.indexOf(':');
    const ref = colon < 0 ? req.snapshot : req.snapshot.slice(0, colon);
    const subpath = colon < 0 ? '' : req.snapshot.slice(colon + 1).replace(/\/+$/, '');
    const snap = await repo.findSnapshot(ref, req.host ? (s) => s.hostname === req.host : undefined);
    const tree = await resolveSubtree(repo, snap.tree, subpath);
    const summary = await new Restorer(repo, {
      tree,
      treePath: subpath,
      target: req.target,
      include: req.include,
      overwrite: req.overwrite,
      onProgress: req.onProgress,
      onWarning: req.onWarning,
      pool: req.pool,
    }).run();
    await lock.ready;
    return { ...summary, snapshot: snap.id, subpath: subpath || '/' };
  } finally {
    await lock.release();
  }
}

/**
 * One restore, from before the repository opens: the key is derived on one thread (see 'side' in
 * KeyDerivation) while the decode workers load, instead of on two (128 MiB) with the workers started
 * after. Pass keyDerivation and onKeyDerivation to the opening; close() whether or not it opened.
 */
export class RestoreRun {
  private pool?: DecodePool;
  readonly keyDerivation: KeyDerivation = 'side';

  /** Whether the decode workers are loading already (the key's derivation has started). */
  get started(): boolean {
    return this.pool !== undefined;
  }

  readonly onKeyDerivation = (): void => {
    // Once per opening, though a repository with several keys may derive more than once.
    this.pool ??= new DecodePool();
  };

  run(repo: Repository, req: RestoreRequest): Promise<RestoreOutcome> {
    return runRestore(repo, { ...req, pool: this.pool });
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
