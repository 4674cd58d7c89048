/**
 * Copy snapshots between repositories, as `restic copy` does: every tree and data blob the target
 * lacks is decrypted from the source and re-encrypted with the target's key (blob IDs are hashes of
 * plaintext, so they stay the same), then the snapshot is saved with `original` pointing at its ID in
 * the source. Deduplication across the copy needs the same chunker polynomial in both repositories.
 */
import { KeepsakeError } from './errors.js';
import { type ID } from './hash.js';
import { type BlobType } from './pack.js';
import { RepoWriter } from './repo-writer.js';
import { type Repository } from './repository.js';
import { encodeSnapshot, type StoredSnapshot } from './snapshot.js';
import { decodeTree } from './tree.js';

export interface CopyStats {
  snapshots: number;
  blobsCopied: number;
  bytesCopied: number;
}

/** Both repositories' indexes must be loaded. */
export async function copySnapshots(from: Repository, to: Repository, snaps: readonly StoredSnapshot[]): Promise<CopyStats> {
  if (from.config.chunkerPolynomial !== to.config.chunkerPolynomial) {
    throw new KeepsakeError('invalid-argument', 'the two repositories use different chunker parameters; copied data would not deduplicate with later backups', {
      hint: 'create the target with the source\'s parameters (keepsake destination add … --init does this within a plan)',
    });
  }
  const writer = new RepoWriter(to);
  const stats: CopyStats = { snapshots: 0, blobsCopied: 0, bytesCopied: 0 };
  const copyBlob = async (type: BlobType, id: ID): Promise<Buffer | undefined> => {
    if (!writer.claim(id)) return undefined;
    const plain = await from.loadBlob(type, id);
    await writer.saveClaimed(type, id, plain);
    stats.blobsCopied++;
    stats.bytesCopied += plain.length;
    return plain;
  };
  const seen = new Set<ID>();
  const walk = async (tree: ID): Promise<void> => {
    if (seen.has(tree)) return;
    seen.add(tree);
    // Walk the source's tree even if the target has it: a tree present there implies its subtrees
    // only if an earlier copy or backup finished, which the index alone cannot tell.
    const raw = (await copyBlob('tree', tree)) ?? (await from.loadBlob('tree', tree));
    for (const n of decodeTree(raw)) {
      for (const b of n.content ?? []) await copyBlob('data', b);
      if (n.subtree) await walk(n.subtree);
    }
  };
  try {
    for (const s of snaps) {
      await walk(s.tree);
      await writer.flush();
      const { id, ...body } = s;
      await to.saveUnpacked('snapshot', encodeSnapshot({ ...body, original: s.original ?? id }));
      stats.snapshots++;
    }
  } finally {
    await writer.discardStaged();
  }
  return stats;
}

/** Snapshots of `from` that `to` does not hold yet (matched by original ID, or time, tree and paths). */
export function missingIn(fromSnaps: readonly StoredSnapshot[], toSnaps: readonly StoredSnapshot[]): StoredSnapshot[] {
  const have = new Set(toSnaps.flatMap((s) => [s.id, s.original ?? '', `${s.time}\0${s.tree}\0${s.paths.join('\0')}`]));
  return fromSnaps.filter((s) => !have.has(s.id) && !have.has(s.original ?? '-') && !have.has(`${s.time}\0${s.tree}\0${s.paths.join('\0')}`));
}
