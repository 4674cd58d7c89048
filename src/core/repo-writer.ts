/**
 * Writing side of a repository during a backup: deduplication decisions, tree packs, uploads, and
 * index files. Order of writes keeps the repository valid at every moment: a pack is uploaded before
 * an index names it, and every index is written before the snapshot that needs it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileSystemError } from '../backend/backend.js';
import { compressMin, compressWith, type Compressor } from './compress.js';
import { CorruptError } from './errors.js';
import { hashID, type ID } from './hash.js';
import { processAlive } from './lock.js';
import { encodeIndex } from './master-index.js';
import { PackBuilder, defaultPackSize, packMaxBlobs, type FinishedPack, type Staging } from './pack-builder.js';
import { type BlobType, type PackedBlob } from './pack.js';
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

/**
 * Blobs per index file. restic fills index files up to 50,000; smaller ones are as valid, and their
 * JSON, its compression (in a WebAssembly heap that never shrinks) and the blob lists waiting for
 * them stay a few MiB each, where 50,000 blobs made the end of a large backup its peak of memory.
 * No pack holds more, so every group of packs written as one index stays within it.
 */
const indexMaxBlobs = packMaxBlobs;

/** Marks staged files of this machine (a repository on a network share may be written by several). */
function hostTag(): string {
  return createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
}

/**
 * Remove the staged pack files of runs of this machine that were killed (their process is gone):
 * a run that ends by itself removes its own. Files of live runs and of other machines stay.
 */
async function removeDeadStaging(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const host = hostTag();
  for (const name of names) {
    const m = /^keepsake-([0-9a-f]{8})-(\d+)-/.exec(name);
    if (m && m[1] === host && !processAlive(Number(m[2]))) await fs.rm(path.join(dir, name), { force: true }).catch(() => undefined);
  }
}

/** An error writing a pack file to the staging folder, said as the destination's failure. */
export function stagingError(err: unknown, location: string, staging: Staging): unknown {
  return err instanceof CorruptError ? err : fileSystemError(err, location, staging.dir, 'write pack', 'save');
}

export class RepoWriter {
  /** Blobs promised to a pack that is not in the index yet. */
  private readonly claimed = new Set<ID>();
  /** The packs being filled here: tree blobs of a backup (its data goes through the chunk workers), both kinds for a copy. */
  private readonly packs: Partial<Record<BlobType, PackBuilder>> = {};
  private stagingPromise: Promise<Staging> | undefined;
  /** A folder of the system's temp folder made for this writer, when the backend has no staging of its own. */
  private ownStaging: string | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private unindexed: { id: ID; blobs: PackedBlob[] }[] = [];
  private unindexedBlobs = 0;
  private lastIndex: number;
  private failure: unknown;
  /** Nothing is written before this settles (see gateWrites); a rejection fails the writer. */
  private gate: Promise<void> = Promise.resolve();
  readonly stats: WriterStats = { dataBlobs: 0, treeBlobs: 0, addedBytes: 0, uploadedBytes: 0, packs: 0 };
  /**
   * Where tree blobs and index files are compressed: a backup lends its chunk workers' zstd while
   * they run (see ChunkPool.compress), else it is this thread's.
   */
  compressor: Compressor | undefined;

  constructor(readonly repo: Repository, private readonly opts: WriterOptions = {}) {
    this.lastIndex = this.now();
  }

  /**
   * Where this writer's packs are assembled: the backend's staging folder (a local repository's own,
   * so finished packs are renamed into place) or a new folder in the system's temp folder. The
   * prefix marks this writer's files, so discardStaged() removes exactly those.
   */
  staging(): Promise<Staging> {
    return (this.stagingPromise ??= (async () => {
      const b = this.repo.backend;
      let dir: string;
      if (b.saveFile && b.stagingDir) {
        dir = await b.stagingDir();
        await removeDeadStaging(dir);
      } else {
        dir = this.ownStaging = await fs.mkdtemp(path.join(os.tmpdir(), 'keepsake-'));
      }
      return { dir, prefix: `keepsake-${hostTag()}-${process.pid}-${randomBytes(4).toString('hex')}` };
    })());
  }

  /** Run a write to a staged pack file; a failure (a full disk) fails the destination, with a hint. */
  private staged<T>(staging: Staging, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw stagingError(err, this.repo.backend.location, staging);
    }
  }

  /** Remove what is left of this writer's pack files (an interrupted backup's): call once no worker writes any more. */
  async discardStaged(): Promise<void> {
    for (const pack of Object.values(this.packs)) pack.discard();
    if (!this.stagingPromise) return;
    const { dir, prefix } = await this.stagingPromise.catch(() => ({ dir: '', prefix: '' }));
    if (this.ownStaging) {
      await fs.rm(this.ownStaging, { recursive: true, force: true });
      return;
    }
    if (!dir) return;
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => n.startsWith(`${prefix}-`)).map((n) => fs.rm(path.join(dir, n), { force: true })));
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
      await this.saveClaimed('tree', id, bytes);
      this.stats.treeBlobs++;
      this.stats.addedBytes += bytes.length;
    }
    return id;
  }

  /**
   * Store a blob the caller has claimed (see claim()) in this writer's pack of its type. A blob that
   * does not fit goes to the next pack; a pack is uploaded once it is full.
   */
  async saveClaimed(type: BlobType, id: ID, plain: Uint8Array): Promise<void> {
    const staging = await this.staging();
    const z = this.repo.compressed && plain.length >= compressMin ? await compressWith(this.compressor, plain) : undefined;
    const pack = (this.packs[type] ??= new PackBuilder(this.repo.key, type, staging, this.opts.packSize ?? defaultPackSize));
    const add = () => this.staged(staging, () => pack.addCompressed(id, plain, z));
    if (!add()) {
      await this.upload(this.staged(staging, () => pack.finish()));
      add();
    }
    if (pack.full) await this.upload(this.staged(staging, () => pack.finish()));
  }

  /**
   * Upload a finished pack (its file is removed). Resolves once the upload has started within the
   * connection limit, so callers feel backpressure; the upload itself completes in the background
   * (see flush()). `done` is called once the backend is done with the pack, stored or not.
   */
  async upload(pack: FinishedPack, done?: () => void): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.size >= this.repo.backend.connections) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const p = this.doUpload(pack, done).catch((err) => {
      this.failure ??= err;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async doUpload(pack: FinishedPack, done?: () => void): Promise<void> {
    const size = pack.size;
    const b = this.repo.backend;
    const h = { type: 'pack', name: pack.id } as const;
    try {
      await this.gate;
      if (b.saveFile && !this.ownStaging) {
        await b.saveFile(h, pack.file);
      } else {
        await b.save(h, await fs.readFile(pack.file));
        await fs.rm(pack.file, { force: true });
      }
    } catch (err) {
      await fs.rm(pack.file, { force: true }).catch(() => undefined);
      throw err;
    } finally {
      done?.();
    }
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
    if (this.unindexedBlobs >= indexMaxBlobs || this.now() - this.lastIndex >= (this.opts.indexEveryMs ?? 30_000)) {
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
    for (let i = 0; i < packs.length; ) {
      const group: typeof packs = [];
      for (let blobs = 0; i < packs.length && (group.length === 0 || blobs + packs[i]!.blobs.length <= indexMaxBlobs); i++) {
        blobs += packs[i]!.blobs.length;
        group.push(packs[i]!);
      }
      const data = await this.repo.sealUnpacked(encodeIndex(group), this.compressor);
      await this.repo.backend.save({ type: 'index', name: hashID(data) }, data);
      this.stats.uploadedBytes += data.length;
    }
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

  /** Finish the packs being filled, wait for every upload, write the index. */
  async flush(): Promise<void> {
    for (const pack of Object.values(this.packs)) {
      if (pack.count > 0) await this.upload(this.staged(await this.staging(), () => pack.finish()));
    }
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
