/**
 * Prune: remove the data no snapshot needs any more, in restic's safe order, so that an interruption
 * at any step leaves a valid repository:
 *   1. find the blobs the remaining snapshots use (every tree, every data blob);
 *   2. repack partly used packs: copy their used blobs (still encrypted, verified first) into new
 *      packs, upload them;
 *   3. write new index files naming every pack that stays and every new pack;
 *   4. delete the old index files;
 *   5. delete packs nothing references any more (unused, repacked, or never indexed).
 * The caller holds the exclusive lock.
 */
import { hashID, type ID } from './hash.js';
import { encodeIndex } from './master-index.js';
import { packTrailer, type BlobType, type PackedBlob } from './pack.js';
import { type Repository } from './repository.js';
import { defaultPackSize } from './pack-builder.js';
import { mapLimit } from './concurrency.js';

export interface PruneStats {
  usedBlobs: number;
  packsKept: number;
  packsRepacked: number;
  packsRemoved: number;
  packsUnindexed: number;
  packsWritten: number;
  bytesFreed: number;
  indexFilesReplaced: number;
}

export async function usedBlobs(repo: Repository): Promise<Set<ID>> {
  const used = new Set<ID>();
  const walk = async (tree: ID): Promise<void> => {
    if (used.has(tree)) return;
    used.add(tree);
    for (const n of await repo.loadTree(tree)) {
      for (const b of n.content ?? []) used.add(b);
      if (n.subtree) await walk(n.subtree);
    }
  };
  for (const s of await repo.snapshots()) await walk(s.tree);
  return used;
}

class RawPacker {
  private parts: Buffer[] = [];
  private blobs: PackedBlob[] = [];
  private size = 0;
  readonly done: { id: ID; blobs: PackedBlob[] }[] = [];

  constructor(private readonly repo: Repository, private readonly type: BlobType) {}

  async add(b: PackedBlob, raw: Buffer): Promise<void> {
    this.blobs.push({ ...b, type: this.type, offset: this.size });
    this.parts.push(raw);
    this.size += raw.length;
    if (this.size >= defaultPackSize) await this.finish();
  }

  async finish(): Promise<void> {
    if (this.blobs.length === 0) return;
    const data = Buffer.concat([...this.parts, packTrailer(this.repo.key, this.blobs)]);
    const id = hashID(data);
    await this.repo.backend.save({ type: 'pack', name: id }, data);
    this.done.push({ id, blobs: this.blobs });
    this.parts = [];
    this.blobs = [];
    this.size = 0;
  }
}

export async function prune(repo: Repository, opts: { onStep?: (what: string) => void } = {}): Promise<PruneStats> {
  await repo.loadIndex();
  const oldIndexes = await repo.list('index');
  opts.onStep?.('finding the data the snapshots use');
  const used = await usedBlobs(repo);
  const stored = new Map<ID, number>();
  for await (const f of repo.backend.list('pack')) stored.set(f.name, f.size);

  // Each used blob is kept once: in the first whole pack that holds it, else copied once.
  const placed = new Set<ID>();
  const keep: { id: ID; blobs: PackedBlob[] }[] = [];
  const repack: { id: ID; blobs: PackedBlob[] }[] = [];
  const drop = new Set<ID>();
  const packs = [...repo.index.packs].filter(([id]) => stored.has(id));
  for (const [id, blobs] of packs) {
    if (blobs.every((b) => used.has(b.id)) && blobs.every((b) => !placed.has(b.id)) && new Set(blobs.map((b) => b.id)).size === blobs.length) {
      keep.push({ id, blobs });
      for (const b of blobs) placed.add(b.id);
    }
  }
  const kept = new Set(keep.map((k) => k.id));
  for (const [id, blobs] of packs) {
    if (kept.has(id)) continue;
    const needed = blobs.filter((b) => used.has(b.id) && !placed.has(b.id));
    for (const b of needed) placed.add(b.id);
    if (needed.length > 0) repack.push({ id, blobs: needed });
    drop.add(id);
  }
  const missing = [...used].filter((b) => !placed.has(b));
  if (missing.length > 0) throw new Error(`prune: ${missing.length} used blob(s) are in no stored pack (run check); nothing was changed`);

  opts.onStep?.(`repacking ${repack.length} pack(s)`);
  const packers = { data: new RawPacker(repo, 'data'), tree: new RawPacker(repo, 'tree') };
  for (const p of repack) {
    const whole = Buffer.from(await repo.backend.load({ type: 'pack', name: p.id }, 0, 0));
    for (const b of p.blobs) {
      const raw = whole.subarray(b.offset, b.offset + b.length);
      repo.decodeBlob(b.id, raw, b.uncompressedLength); // never copy a damaged blob
      await packers[b.type].add(b, Buffer.from(raw));
    }
  }
  await packers.tree.finish();
  await packers.data.finish();
  const written = [...packers.tree.done, ...packers.data.done];

  opts.onStep?.('writing the new index');
  const all = [...keep, ...written];
  for (let i = 0; i < all.length || i === 0; i += 2000) {
    await repo.saveUnpacked('index', encodeIndex(all.slice(i, i + 2000), i === 0 ? oldIndexes : []));
  }
  for (const id of oldIndexes) await repo.backend.remove({ type: 'index', name: id });

  opts.onStep?.('deleting unused packs');
  const referenced = new Set(all.map((p) => p.id));
  const unindexed = [...stored.keys()].filter((id) => !repo.index.packs.has(id) && !referenced.has(id));
  const toDelete = [...drop, ...unindexed];
  let freed = 0;
  await mapLimit(toDelete, repo.backend.connections, async (id) => {
    await repo.backend.remove({ type: 'pack', name: id });
    freed += stored.get(id) ?? 0;
  });
  repo.index.removePacks(new Set(toDelete));
  for (const p of written) repo.index.addPack(p.id, p.blobs);
  return {
    usedBlobs: used.size,
    packsKept: keep.length,
    packsRepacked: repack.length,
    packsRemoved: drop.size - repack.length,
    packsUnindexed: unindexed.length,
    packsWritten: written.length,
    bytesFreed: freed,
    indexFilesReplaced: oldIndexes.length,
  };
}
