/**
 * One destination of a backup: its repository writer, its parent snapshot, its folder cache and its
 * own counts. The archiver walks the files once and feeds every target; a target whose destination
 * fails drops out while the others go on.
 */
import os from 'node:os';
import path from 'node:path';
import { formatTime } from './gojson.js';
import { type ID } from './hash.js';
import { RepoWriter } from './repo-writer.js';
import { type Repository } from './repository.js';
import { encodeSnapshot, type Snapshot, type StoredSnapshot } from './snapshot.js';
import { type TreeNode } from './tree.js';

export interface BackupSummary {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  dataAdded: number;
  uploadedBytes: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  bytesRead: number;
}

export interface DirCacheEntry {
  /** Digest of the folder's entries' metadata and subfolder fingerprints (see scanner.ts). */
  fingerprint: string;
  tree: ID;
  files: number;
  bytes: number;
}

/** Remembers, per folder path, the tree stored for a listing; supplied by the app (a local file). */
export interface DirCache {
  get(dir: string): DirCacheEntry | undefined;
  set(dir: string, entry: DirCacheEntry): void;
  /**
   * True if the cache may be used: the app checks that no index file has gone since the cache was
   * written (a prune or an index repair removes some). Otherwise the backup walks every folder, as
   * restic would, and the cache is written anew.
   */
  readonly trusted: boolean;
}

export interface TargetSpec {
  repo: Repository;
  parent?: StoredSnapshot;
  dirCache?: DirCache;
}

export function emptySummary(): BackupSummary {
  return {
    filesNew: 0, filesChanged: 0, filesUnmodified: 0, dirsNew: 0, dirsChanged: 0, dirsUnmodified: 0, dataBlobs: 0,
    treeBlobs: 0, dataAdded: 0, uploadedBytes: 0, totalFilesProcessed: 0, totalBytesProcessed: 0, bytesRead: 0,
  };
}

export class ArchiveTarget {
  readonly writer: RepoWriter;
  readonly s = emptySummary();
  /** Set when this destination failed; it then takes no more data and gets no snapshot. */
  failure: unknown;

  constructor(readonly spec: TargetSpec, packSize: number | undefined) {
    this.writer = new RepoWriter(spec.repo, { packSize });
  }

  get repo(): Repository {
    return this.spec.repo;
  }

  fail(err: unknown): void {
    this.failure ??= err;
    this.writer.fail(err);
  }

  /** Reuse a folder tree stored by an earlier backup, if the scan shows the folder unchanged. */
  cachedTree(dir: string, fingerprint: string | undefined): ID | undefined {
    if (!fingerprint) return undefined;
    const hit = this.spec.dirCache?.get(dir);
    // Only while no index file has gone since the cache was written: after a prune or an index
    // repair, blobs may be missing, and a full walk (which checks every file's blobs against the
    // index, and uploads again what is gone) must come first.
    if (!hit || hit.fingerprint !== fingerprint || !this.spec.dirCache!.trusted) return undefined;
    return !this.repo.indexLoaded || this.repo.index.has(hit.tree) ? hit.tree : undefined;
  }

  countFile(prev: TreeNode | undefined, reused: boolean, size: number): void {
    this.s.totalFilesProcessed++;
    this.s.totalBytesProcessed += size;
    if (reused) this.s.filesUnmodified++;
    else if (prev?.type === 'file') this.s.filesChanged++;
    else this.s.filesNew++;
  }

  countDir(prev: TreeNode | undefined, subtree: ID): void {
    if (!prev || prev.type !== 'dir') this.s.dirsNew++;
    else if (prev.subtree === subtree) this.s.dirsUnmodified++;
    else this.s.dirsChanged++;
  }

  async finish(tree: ID, opts: { paths: string[]; tags?: string[]; hostname?: string; programVersion?: string; now?: () => bigint }): Promise<{ id: ID; snapshot: Snapshot }> {
    await this.writer.flush();
    const user = os.userInfo();
    const snapshot: Snapshot = {
      time: formatTime(opts.now?.() ?? BigInt(Date.now()) * 1_000_000n),
      parent: this.spec.parent?.id,
      tree,
      paths: opts.paths.map((p) => path.resolve(p)).sort(),
      hostname: opts.hostname ?? os.hostname(),
      username: user.username,
      uid: user.uid >= 0 ? user.uid : undefined,
      gid: user.gid >= 0 ? user.gid : undefined,
      tags: opts.tags,
      programVersion: opts.programVersion,
    };
    const id = await this.repo.saveUnpacked('snapshot', encodeSnapshot(snapshot));
    Object.assign(this.s, {
      dataBlobs: this.writer.stats.dataBlobs,
      treeBlobs: this.writer.stats.treeBlobs,
      dataAdded: this.writer.stats.addedBytes,
      uploadedBytes: this.writer.stats.uploadedBytes,
    });
    return { id, snapshot };
  }
}
