/**
 * Writing side of a repository during a backup: deduplication decisions, tree packs, uploads, and
 * index files. Order of writes keeps the repository valid at every moment: a pack is uploaded before
 * an index names it, and every index is written before the snapshot that needs it.
 */
import { hashID, type ID } from './hash.js';
import { encodeIndex } from './master-index.js';
import { PackBuilder, defaultPackSize, type FinishedPack } from './pack-builder.js';
import { type PackedBlob } from './pack.js';
import { type Repository } from './repository.js';
import { encodeTree, type TreeNode } from './tree.js';

export interface WriterStats {
  dataBlobs: number;
  treeBlobs: number;
  /** Bytes of blob plaintext stored (before compression). */
  addedBytes: number;
  /** Bytes uploaded, packs and indexes. */
  uploadedBytes: number;
  packs: number;
}

export interface WriterOptions {
  packSize?: number;
  /** Write an index at least this often (ms) so an interrupted backup keeps what it uploaded. */
  indexEveryMs?: number;
  now?: () => number;
}

export class RepoWriter {
  /** Blobs promised to a pack that is not in the index yet. */
  private readonly claimed = new Set<ID>();
  private readonly treePack: PackBuilder;
  private readonly inFlight = new Set<Promise<void>>();
  private unindexed: { id: ID; blobs: PackedBlob[] }[] = [];
  private unindexedBlobs = 0;
  private lastIndex: number;
  private failure: unknown;
  /** Nothing is written before this settles (see gateWrites); a rejection fails the writer. */
  private gate: Promise<void> = Promise.resolve();
  readonly stats: WriterStats = { dataBlobs: 0, treeBlobs: 0, addedBytes: 0, uploadedBytes: 0, packs: 0 };

  constructor(readonly repo: Repository, private readonly opts: WriterOptions = {}) {
    this.treePack = new PackBuilder(repo.key, 'tree', opts.packSize ?? defaultPackSize);
    this.lastIndex = this.now();
  }

  /**
   * Hold every write (packs, indexes) until `ready` settles: a backup starts reading, cutting and
   * encrypting while its lock is still confirming there is no competing one, and writes only after.
   */
  gateWrites(ready: Promise<void>): void {
    this.gate = ready;
    ready.catch((err) => {
      this.failure ??= err;
    });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  has(id: ID): boolean {
    return this.claimed.has(id) || this.repo.index.has(id);
  }

  /** Returns true if the caller must store this blob (nobody has it or promised it). */
  claim(id: ID): boolean {
    if (this.failure !== undefined || this.has(id)) return false;
    this.claimed.add(id);
    return true;
  }

  async saveTree(nodes: TreeNode[]): Promise<ID> {
    return this.saveTreeBlob(encodeTree(nodes));
  }

  /** Store an encoded tree (see encodeTree) unless the repository has it; returns its ID. */
  async saveTreeBlob(bytes: Buffer): Promise<ID> {
    const id = hashID(bytes);
    if (this.claim(id)) {
      if (!this.treePack.add(id, bytes, this.repo.compressed)) {
        await this.upload(this.treePack.finish());
        this.treePack.add(id, bytes, this.repo.compressed);
      }
      this.stats.treeBlobs++;
      this.stats.addedBytes += bytes.length;
      if (this.treePack.full) await this.upload(this.treePack.finish());
    }
    return id;
  }

  /**
   * Upload a finished pack. Resolves once the upload has started within the connection limit, so
   * callers feel backpressure; the upload itself completes in the background (see flush()).
   * `saved(ok)` is called once the backend is done with the pack's bytes.
   */
  async upload(pack: FinishedPack, saved?: (ok: boolean) => void): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.size >= this.repo.backend.connections) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const p = this.doUpload(pack, saved).catch((err) => {
      this.failure ??= err;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async doUpload(pack: FinishedPack, saved?: (ok: boolean) => void): Promise<void> {
    const size = pack.data.length;
    try {
      await this.gate;
      await this.repo.backend.save({ type: 'pack', name: pack.id }, pack.data);
    } catch (err) {
      saved?.(false);
      throw err;
    }
    saved?.(true);
    this.repo.index.addPack(pack.id, pack.blobs);
    for (const b of pack.blobs) {
      this.claimed.delete(b.id);
      if (b.type === 'data') {
        this.stats.dataBlobs++;
        this.stats.addedBytes += b.uncompressedLength ?? b.length - 32;
      }
    }
    this.stats.packs++;
    this.stats.uploadedBytes += size;
    this.unindexed.push({ id: pack.id, blobs: pack.blobs });
    this.unindexedBlobs += pack.blobs.length;
    if (this.unindexedBlobs >= 50_000 || this.now() - this.lastIndex >= (this.opts.indexEveryMs ?? 30_000)) {
      await this.writeIndex();
    }
  }

  private async writeIndex(): Promise<void> {
    if (this.unindexed.length === 0) return;
    await this.gate;
    const packs = this.unindexed;
    this.unindexed = [];
    this.unindexedBlobs = 0;
    this.lastIndex = this.now();
    const data = this.repo.sealUnpacked(encodeIndex(packs));
    await this.repo.backend.save({ type: 'index', name: hashID(data) }, data);
    this.stats.uploadedBytes += data.length;
  }

  /** Why this destination failed, if it did. */
  get failed(): unknown {
    return this.failure;
  }

  /** Stop taking data: the destination failed. Uploads already running finish or fail on their own. */
  fail(err: unknown): void {
    this.failure ??= err;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Finish the tree pack, wait for every upload, write the index. */
  async flush(): Promise<void> {
    if (this.treePack.count > 0) await this.upload(this.treePack.finish());
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    this.throwIfFailed();
    await this.writeIndex();
  }

  /** After an interruption: index what did reach the backend, drop the rest. */
  async salvage(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight);
    await this.writeIndex();
  }
}
