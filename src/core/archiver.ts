/**
 * Backup: walk the targets, keep the content of files that the parent snapshot shows unchanged
 * (size, mtime, ctime, inode; nothing is read), send new and changed files to the chunk workers,
 * build trees bottom-up, then write the snapshot once every pack and index is stored.
 *
 * The walk uses synchronous lstat/readdir: on the main thread they cost a few microseconds each,
 * where the async versions cost a thread-pool round trip; the walk yields regularly so worker
 * messages are still answered promptly.
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTime } from './gojson.js';
import { KeepsakeError } from './errors.js';
import { nodeFromStat, unchanged } from './fs-node.js';
import { type ID } from './hash.js';
import { RepoWriter } from './repo-writer.js';
import { type Repository } from './repository.js';
import { encodeSnapshot, type Snapshot, type StoredSnapshot } from './snapshot.js';
import { type TreeNode } from './tree.js';
import { ChunkPool, type FileResult } from './worker-pool.js';
import { defaultPackSize } from './pack-builder.js';
import { Scanner, type ScanInfo } from './scanner.js';

export interface BackupProgress {
  filesDone: number;
  bytesDone: number;
  /** Files and bytes found so far; final once `scanDone`. */
  filesTotal: number;
  bytesTotal: number;
  scanDone: boolean;
  current?: string;
}

export interface BackupWarning {
  path: string;
  message: string;
  /** `skipped`: not in the snapshot. `changed`: stored as read, but it changed while being read. */
  kind: 'skipped' | 'changed';
}

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

export interface BackupOptions {
  paths: string[];
  parent?: StoredSnapshot;
  tags?: string[];
  hostname?: string;
  /** Extensions (lowercase, with dot) whose data is already compressed: stored without zstd. */
  incompressible?: ReadonlySet<string>;
  workers?: number;
  packSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  onWarning?: (w: BackupWarning) => void;
  now?: () => bigint;
  programVersion?: string;
  dirCache?: DirCache;
  /** Awaited after the scan, before the first write (the lock's confirmation). */
  beforeWrite?: () => Promise<void>;
}

export interface BackupResult {
  id: ID;
  snapshot: Snapshot;
  summary: BackupSummary;
  warnings: BackupWarning[];
}

export const mediaExtensions: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.heic', '.heif', '.avif', '.webp', '.png', '.gif', '.mp4', '.mov', '.m4v', '.3gp', '.avi', '.mkv',
  '.mts', '.m2ts', '.mp3', '.m4a', '.aac', '.zip', '.gz', '.xz', '.zst', '.7z', '.cr2', '.cr3', '.nef', '.arw', '.dng', '.raf', '.orf', '.rw2',
]);

type Trie = Map<string, { target?: string; children: Trie }>;

/** The parent snapshot's node for the same path, loaded on first use. */
type PrevNode = () => Promise<TreeNode | undefined>;

/** A finished node; `clean` if nothing in it was skipped or changed while read (cacheable). */
interface Built {
  node: TreeNode;
  clean: boolean;
}

/** An entry whose walk is over; `done` settles once its content and tree are stored. */
interface Walked {
  done: Promise<Built | undefined>;
}

export interface DirCacheEntry {
  /** Digest of the folder's entries' metadata and subfolder trees. */
  fingerprint: string;
  tree: ID;
  files: number;
  bytes: number;
}

/** Remembers, per folder path, the tree stored for a listing; supplied by the app (a local file). */
export interface DirCache {
  get(dir: string): DirCacheEntry | undefined;
  set(dir: string, entry: DirCacheEntry): void;
}

/** Path components as restic stores them: absolute paths in full, relative ones without leading `..`. */
function components(target: string): string[] {
  const clean = path.normalize(target);
  return clean.split(path.sep).filter((c) => c !== '' && c !== '.' && c !== '..');
}

export class Archiver {
  private readonly writer: RepoWriter;
  private readonly pool: ChunkPool;
  private readonly warnings: BackupWarning[] = [];
  private readonly progress: BackupProgress = { filesDone: 0, bytesDone: 0, filesTotal: 0, bytesTotal: 0, scanDone: false };
  private readonly s: BackupSummary = {
    filesNew: 0, filesChanged: 0, filesUnmodified: 0, dirsNew: 0, dirsChanged: 0, dirsUnmodified: 0, dataBlobs: 0,
    treeBlobs: 0, dataAdded: 0, uploadedBytes: 0, totalFilesProcessed: 0, totalBytesProcessed: 0, bytesRead: 0,
  };
  private sinceYield = 0;
  private readonly scanner: Scanner;
  private lastProgress = 0;

  constructor(private readonly repo: Repository, private readonly opts: BackupOptions) {
    this.scanner = new Scanner(opts.dirCache !== undefined);
    this.writer = new RepoWriter(repo, { packSize: opts.packSize });
    this.pool = new ChunkPool(this.writer, {
      key: repo.key,
      polynomial: repo.config.chunkerPolynomial,
      packSize: opts.packSize ?? defaultPackSize,
      workers: opts.workers,
    });
  }

  async run(): Promise<BackupResult> {
    try {
      this.scan();
      await this.opts.beforeWrite?.();
      const tree = await this.archiveTargets();
      this.checkAbort();
      await this.pool.flush();
      await this.writer.flush();
      const snapshot = this.snapshot(tree);
      const id = await this.repo.saveUnpacked('snapshot', encodeSnapshot(snapshot));
      Object.assign(this.s, {
        dataBlobs: this.writer.stats.dataBlobs,
        treeBlobs: this.writer.stats.treeBlobs,
        dataAdded: this.writer.stats.addedBytes,
        uploadedBytes: this.writer.stats.uploadedBytes,
      });
      this.emitProgress(true);
      return { id, snapshot, summary: this.s, warnings: this.warnings };
    } catch (err) {
      // Keep what reached the destination: index the packs that were uploaded.
      await this.pool.close();
      await this.writer.salvage().catch(() => undefined);
      throw err;
    } finally {
      await this.pool.close();
    }
  }

  private snapshot(tree: ID): Snapshot {
    const user = os.userInfo();
    return {
      time: formatTime(this.opts.now?.() ?? BigInt(Date.now()) * 1_000_000n),
      parent: this.opts.parent?.id,
      tree,
      paths: this.opts.paths.map((p) => path.resolve(p)).sort(),
      hostname: this.opts.hostname ?? os.hostname(),
      username: user.username,
      uid: user.uid >= 0 ? user.uid : undefined,
      gid: user.gid >= 0 ? user.gid : undefined,
      tags: this.opts.tags,
      programVersion: this.opts.programVersion,
    };
  }

  /** Stat everything first: exact totals for the progress display, and folder fingerprints. */
  private scan(): void {
    for (const t of this.opts.paths) {
      const abs = path.resolve(t);
      const st = this.lstat(abs);
      if (st?.isDirectory()) {
        const info = this.scanner.scanDir(abs);
        this.progress.filesTotal += info?.files ?? 0;
        this.progress.bytesTotal += info?.bytes ?? 0;
      } else if (st?.isFile()) {
        this.progress.filesTotal++;
        this.progress.bytesTotal += Number(st.size);
      }
    }
    this.progress.scanDone = true;
    this.emitProgress(true);
  }

  private async archiveTargets(): Promise<ID> {
    const root: Trie = new Map();
    for (const t of this.opts.paths) {
      const comps = components(t);
      if (comps.length === 0) throw new KeepsakeError('invalid-argument', `cannot back up ${t}: name a folder or file below it`);
      let level = root;
      let abs = path.isAbsolute(t) ? path.sep : path.resolve('.');
      comps.forEach((c, i) => {
        abs = path.join(abs, c);
        let entry = level.get(c);
        if (!entry) level.set(c, (entry = { children: new Map() }));
        if (i === comps.length - 1) entry.target = path.resolve(t);
        level = entry.children;
      });
    }
    const parentRoot = this.opts.parent ? await this.repo.loadTree(this.opts.parent.tree) : undefined;
    const rootPrefix = this.opts.paths.every((p) => path.isAbsolute(p)) ? path.sep : path.resolve('.');
    return this.writer.saveTree(await this.archiveTrie(root, rootPrefix, parentRoot));
  }

  private async archiveTrie(level: Trie, dir: string, parentNodes: TreeNode[] | undefined): Promise<TreeNode[]> {
    const byName = new Map(parentNodes?.map((n) => [n.name, n]));
    const out: TreeNode[] = [];
    for (const [name, entry] of level) {
      const p = path.join(dir, name);
      const prev = byName.get(name);
      if (entry.target) {
        const built = await (await this.walkEntry(entry.target, name, async () => prev)).done;
        if (built) out.push(built.node);
        else throw new KeepsakeError('not-found', `cannot back up ${entry.target}: it does not exist or cannot be read`);
        continue;
      }
      const st = this.lstat(p);
      if (!st) throw new KeepsakeError('not-found', `cannot back up below ${p}: it does not exist`);
      const node = nodeFromStat(name, p, st);
      const prevChildren = prev?.type === 'dir' && prev.subtree ? await this.repo.loadTree(prev.subtree) : undefined;
      node.subtree = await this.writer.saveTree(await this.archiveTrie(entry.children, p, prevChildren));
      out.push(node);
    }
    return out;
  }

  private lstat(p: string): BigIntStats | undefined {
    try {
      return lstatSync(p, { bigint: true, throwIfNoEntry: false });
    } catch (err) {
      this.warn(p, (err as Error).message, 'skipped');
      return undefined;
    }
  }

  private warn(p: string, message: string, kind: BackupWarning['kind']): void {
    const w = { path: p, message, kind };
    this.warnings.push(w);
    this.opts.onWarning?.(w);
  }

  private checkAbort(): void {
    if (this.opts.signal?.aborted) throw new KeepsakeError('interrupted', 'backup interrupted');
    if (this.pool.error) throw this.pool.error;
  }

  private async maybeYield(): Promise<void> {
    if (++this.sinceYield < 128) return;
    this.sinceYield = 0;
    this.checkAbort();
    await new Promise((r) => setImmediate(r));
    this.emitProgress(false);
  }

  private emitProgress(force: boolean): void {
    const now = Date.now();
    if (!this.opts.onProgress || (!force && now - this.lastProgress < 100)) return;
    this.lastProgress = now;
    this.opts.onProgress({ ...this.progress });
  }

  /**
   * Walk one file-system entry. The walk itself is sequential, depth first; what it starts (reading
   * a file, finishing a folder's tree) goes on in the background and `done` settles when it is
   * stored. Reading a file first takes one of the pool's places: when the workers are behind, the
   * walk waits, so memory stays flat however large the library is.
   * `prev` yields the parent snapshot's node of the same path, loading parent trees only on demand.
   */
  private async walkEntry(p: string, name: string, prev: PrevNode, given?: BigIntStats): Promise<Walked> {
    await this.maybeYield();
    const st = given ?? this.lstat(p);
    if (!st) {
      this.warn(p, 'vanished before it could be read', 'skipped');
      return { done: Promise.resolve(undefined) };
    }
    let node: TreeNode;
    try {
      node = nodeFromStat(name, p, st);
    } catch (err) {
      this.warn(p, (err as Error).message, 'skipped');
      return { done: Promise.resolve(undefined) };
    }
    if (node.type === 'dir') return this.walkDir(p, node, prev);
    if (node.type !== 'file') return { done: Promise.resolve({ node, clean: true }) };
    const before = await prev();
    this.s.totalFilesProcessed++;
    this.s.totalBytesProcessed += node.size ?? 0;
    if (unchanged(before, st) && before.content.every((id) => this.writer.has(id))) {
      node.content = before.content;
      this.s.filesUnmodified++;
      this.fileDone(1, node.size ?? 0);
      return { done: Promise.resolve({ node, clean: true }) };
    }
    await this.pool.reserve();
    return { done: quiet(this.readFile(p, node, before)) };
  }

  private async readFile(p: string, node: TreeNode, prev: TreeNode | undefined): Promise<Built | undefined> {
    const r: FileResult = await this.pool.submit({
      path: p,
      size: node.size ?? 0,
      compress: this.repo.compressed && !(this.opts.incompressible ?? mediaExtensions).has(path.extname(node.name).toLowerCase()),
    });
    if (!r.ok && this.pool.error) throw this.pool.error;
    if (!r.ok) {
      this.warn(p, r.code === 'ENOENT' ? 'vanished before it could be read' : r.message, 'skipped');
      this.fileDone(1, node.size ?? 0);
      return undefined;
    }
    if (r.changed) this.warn(p, 'changed while it was being read; the snapshot holds the bytes as read', 'changed');
    node.content = r.content;
    node.size = r.bytes;
    this.s.bytesRead += r.bytes;
    if (prev?.type === 'file') this.s.filesChanged++;
    else this.s.filesNew++;
    this.fileDone(1, node.size);
    return { node, clean: !r.changed };
  }

  private fileDone(files: number, bytes: number): void {
    this.progress.filesDone += files;
    this.progress.bytesDone += bytes;
    this.emitProgress(false);
  }

  /**
   * A folder. If the scan's fingerprint of it equals the one stored with a tree by an earlier backup,
   * that tree is the answer: nothing below is listed, read or compared. Otherwise its entries are
   * walked (files compared with the parent snapshot; new or changed ones read) and, once all are
   * stored, its tree is saved.
   */
  private async walkDir(p: string, node: TreeNode, prev: PrevNode): Promise<Walked> {
    const info = this.scanner.dirs.get(p);
    const hit = info?.fingerprint ? this.opts.dirCache?.get(p) : undefined;
    if (info && hit && hit.fingerprint === info.fingerprint && this.repo.index.has(hit.tree)) {
      this.s.totalFilesProcessed += info.files;
      this.s.totalBytesProcessed += info.bytes;
      this.s.filesUnmodified += info.files;
      this.s.dirsUnmodified += info.dirs + 1;
      this.fileDone(info.files, info.bytes);
      node.subtree = hit.tree;
      return { done: Promise.resolve({ node, clean: true }) };
    }
    let names: string[];
    try {
      names = readdirSync(p);
    } catch (err) {
      this.warn(p, (err as Error).message, 'skipped');
      return { done: Promise.resolve(undefined) };
    }
    let prevNodes: Promise<Map<string, TreeNode> | undefined> | undefined;
    const prevChild = (name: string): PrevNode => async () => {
      prevNodes ??= prev().then(async (n) =>
        n?.type === 'dir' && n.subtree ? new Map((await this.repo.loadTree(n.subtree)).map((c) => [c.name, c])) : undefined);
      return (await prevNodes)?.get(name);
    };
    const pending: Promise<Built | undefined>[] = [];
    for (const name of names) pending.push((await this.walkEntry(path.join(p, name), name, prevChild(name))).done);
    return { done: quiet(this.finishDir(p, node, prev, info, pending)) };
  }

  private async finishDir(p: string, node: TreeNode, prev: PrevNode, info: ScanInfo | undefined, pending: Promise<Built | undefined>[]): Promise<Built> {
    const children = await Promise.all(pending);
    const kept = children.filter((c): c is Built => c !== undefined);
    node.subtree = await this.writer.saveTree(kept.map((c) => c.node));
    const before = await prev();
    if (!before || before.type !== 'dir') this.s.dirsNew++;
    else if (before.subtree === node.subtree) this.s.dirsUnmodified++;
    else this.s.dirsChanged++;
    const clean = kept.length === children.length && kept.every((c) => c.clean);
    if (clean && info?.fingerprint) {
      this.opts.dirCache?.set(p, { fingerprint: info.fingerprint, tree: node.subtree, files: info.files, bytes: info.bytes });
    }
    return { node, clean };
  }
}

/**
 * Mark a background promise as observed: it is awaited later, by its folder, but a rejection before
 * then must not count as unhandled (which would end the process).
 */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

export function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  return new Archiver(repo, opts).run();
}
