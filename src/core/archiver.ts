/**
 * Backup: one walk over the files feeds one or more destinations. Files that a destination's parent
 * snapshot shows unchanged (size, mtime, ctime, inode) are not read; new and changed files are read
 * once, cut and hashed once, and encrypted for each destination that lacks a chunk; trees are built
 * bottom-up; each destination gets its snapshot once its packs and index are stored.
 *
 * The walk uses synchronous lstat/readdir: on the main thread they cost a few microseconds each,
 * where the async versions cost a thread-pool round trip; the walk yields regularly so worker
 * messages are still answered promptly.
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { ArchiveTarget, type DirCache, type TargetSpec } from './archive-target.js';
import { mediaExtensions, type BackupOptions, type BackupProgress, type BackupResult, type BackupWarning, type TargetResult } from './backup-types.js';
import { KeepsakeError } from './errors.js';
import { nodeFromStat, unchanged } from './fs-node.js';
import { type ID } from './hash.js';
import { defaultPackSize } from './pack-builder.js';
import { type Repository } from './repository.js';
import { Scanner, type ScanInfo } from './scanner.js';
import { type StoredSnapshot } from './snapshot.js';
import { encodeTree, TreeEncoder, utf8Compare, type TreeNode } from './tree.js';
import { ChunkPool, type FileResult } from './worker-pool.js';
import { statKey } from './worker-protocol.js';
import { mallocForBackup } from '../util/heap-settings.js';

type Trie = Map<string, { target?: string; children: Trie }>;

/** The parent snapshot's node for the same path in destination i, loaded on first use. */
type PrevNode = (i: number) => Promise<TreeNode | undefined>;

/** A parent folder's nodes, loaded on first use. */
type LazyNodes = () => Promise<TreeNode[] | undefined>;

/** Run `fn` on the first call only; later calls get the same promise. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/**
 * A finished entry. For folders, `subtrees[i]` is the folder's tree in destination i (usually all
 * equal; they differ when a destination reuses a tree an earlier backup stored). `clean` if nothing
 * in it was skipped or changed while read (only clean folders are cached).
 */
interface Built {
  node: TreeNode;
  subtrees?: ID[];
  clean: boolean;
}

/** An entry whose walk is over; `done` settles once its content and trees are stored. */
interface Walked {
  done: Promise<Built | undefined>;
}

const resolved = (b: Built | undefined): Walked => ({ done: Promise.resolve(b) });

/**
 * A folder's trees, encoded entry by entry as its entries are stored, in name order (the walk goes
 * in that order): a node is dropped as soon as it and those before it are done, so a folder holds
 * its JSON, not a node object per file until its last file is read (a folder of 14,000 photos:
 * ~5 MB of JSON instead of ~10 MiB of promoted objects in the main heap). One encoding serves every
 * destination while the entries' subfolder trees agree (the usual case); from the first entry where
 * they differ (a destination reusing a tree an earlier backup stored), each has its own.
 */
class FolderTree {
  private encoders: TreeEncoder[];
  private readonly queue: Promise<Built | undefined>[] = [];
  private pumping: Promise<void> | undefined;
  private entries = 0;
  private kept = 0;
  /** False once an entry was skipped or changed while read. */
  private allClean = true;

  constructor(private readonly destinations: number, expected: number) {
    this.encoders = [new TreeEncoder(expected)];
  }

  /** The next entry in name order; `done` settles once it is stored. */
  push(done: Promise<Built | undefined>): void {
    this.queue.push(done);
    this.entries++;
    this.pumping ??= quiet(this.pump());
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const b = await this.queue.shift()!;
      if (!b) continue;
      this.kept++;
      this.allClean &&= b.clean;
      const shared = this.encoders[0]!;
      if (this.encoders.length === 1 && b.subtrees?.some((s) => s !== b.subtrees![0])) {
        this.encoders = Array.from({ length: this.destinations }, (_, i) => (i === 0 ? shared : shared.clone()));
      }
      this.encoders.forEach((e, i) => {
        if (b.subtrees) b.node.subtree = b.subtrees[i];
        e.add(b.node);
      });
    }
    this.pumping = undefined;
  }

  /** Once every entry is pushed: the encoded tree of each destination, and whether nothing was skipped or changed. */
  async finish(): Promise<{ trees: Buffer[]; clean: boolean }> {
    while (this.pumping) await this.pumping;
    const trees = this.encoders.map((e) => e.finish());
    return {
      trees: trees.length === 1 ? Array.from({ length: this.destinations }, () => trees[0]!) : trees,
      clean: this.allClean && this.kept === this.entries,
    };
  }
}

function countTargets(level: Trie): number {
  let n = 0;
  for (const e of level.values()) n += e.target ? 1 : countTargets(e.children); // a target is walked whole
  return n;
}

/** Path components as restic stores them: absolute paths in full, relative ones without leading `..`. */
function components(target: string): string[] {
  const clean = path.normalize(target);
  return clean.split(path.sep).filter((c) => c !== '' && c !== '.' && c !== '..');
}

export class Archiver {
  private readonly targets: ArchiveTarget[];
  private readonly pool: ChunkPool;
  private readonly warnings: BackupWarning[] = [];
  private readonly progress: BackupProgress = { filesDone: 0, bytesDone: 0, filesTotal: 0, bytesTotal: 0, scanDone: false };
  private readonly scanner: Scanner;
  private sinceYield = 0;
  private lastProgress = 0;
  private indexes: Promise<unknown> | undefined;
  /** Targets still to be walked; at 0 the chunk workers are told to finish. */
  private walksLeft = -1;

  constructor(specs: TargetSpec[], private readonly opts: BackupOptions) {
    if (specs.length === 0) throw new KeepsakeError('invalid-argument', 'a backup needs at least one destination');
    const pol = specs[0]!.repo.config.chunkerPolynomial;
    if (specs.some((s) => s.repo.config.chunkerPolynomial !== pol)) {
      // Chunks are cut once for all destinations, so all must cut alike.
      throw new KeepsakeError('invalid-argument', 'destinations backed up in one pass must share chunker parameters');
    }
    mallocForBackup();
    this.targets = specs.map((s) => new ArchiveTarget(s, opts.packSize));
    this.scanner = opts.scan ?? new Scanner(specs.some((s) => s.dirCache !== undefined));
    this.pool = new ChunkPool(this.targets.map((t) => t.writer), {
      polynomial: pol,
      packSize: opts.packSize ?? defaultPackSize,
      workers: opts.workers,
      onUploadError: (i, err) => this.targets[i]!.fail(err),
    });
    for (const t of this.targets) t.writer.compressor = (plain) => this.pool.compress(plain);
  }

  async run(): Promise<TargetResult[]> {
    try {
      await this.scan();
      // Reading starts now; writes wait for beforeWrite (the locks' confirmation), in the writers.
      const ready = this.opts.beforeWrite?.();
      if (ready) for (const t of this.targets) t.writer.gateWrites(ready);
      const roots = await this.archiveTargets();
      await ready;
      this.checkAbort();
      await this.pool.retire();
      const results = await Promise.all(this.targets.map((t, i) => this.finishTarget(t, roots[i]!)));
      this.emitProgress(true);
      return results;
    } catch (err) {
      // Keep what reached the destinations: index the packs that were uploaded.
      await this.pool.close();
      await Promise.all(this.targets.map((t) => t.writer.salvage().catch(() => undefined)));
      throw err;
    } finally {
      await this.pool.close();
      // Pack files an interruption left half-written or not uploaded.
      await Promise.all(this.targets.map((t) => t.writer.discardStaged().catch(() => undefined)));
    }
  }

  private async finishTarget(t: ArchiveTarget, tree: ID): Promise<TargetResult> {
    if (t.failure === undefined) {
      try {
        return { ok: true, ...(await t.finish(tree, this.opts)), summary: t.s, warnings: this.warnings };
      } catch (err) {
        t.fail(err);
      }
    }
    // No snapshot for this destination; index what did reach it (if it can still be reached), so
    // the next backup does not send it again.
    await t.writer.salvage().catch(() => undefined);
    return { ok: false, error: t.failure, summary: t.s, warnings: this.warnings };
  }

  /** Stat everything first: exact totals for the progress display, and folder fingerprints. */
  private async scan(): Promise<void> {
    if (!this.opts.scan) await this.scanner.scanPaths(this.opts.paths);
    this.progress.filesTotal = this.scanner.files;
    this.progress.bytesTotal = this.scanner.bytes;
    this.progress.scanDone = true;
    this.emitProgress(true);
  }

  private async archiveTargets(): Promise<ID[]> {
    const root: Trie = new Map();
    for (const t of this.opts.paths) {
      const comps = components(t);
      if (comps.length === 0) throw new KeepsakeError('invalid-argument', `cannot back up ${t}: name a folder or file below it`);
      let level = root;
      comps.forEach((c, i) => {
        let entry = level.get(c);
        if (!entry) level.set(c, (entry = { children: new Map() }));
        if (i === comps.length - 1) entry.target = path.resolve(t);
        level = entry.children;
      });
    }
    // Parent trees are read only if a folder turns out not to be cached (see walkDir).
    const parentRoots = this.targets.map((t) => once(async () => (t.spec.parent ? this.loadTree(t, t.spec.parent.tree) : undefined)));
    this.walksLeft = countTargets(root);
    const rootPrefix = this.opts.paths.every((p) => path.isAbsolute(p)) ? path.sep : path.resolve('.');
    return this.saveTrees(await this.archiveTrie(root, rootPrefix, parentRoots));
  }

  /**
   * The indexes are needed as soon as anything is not reused whole from a folder cache (to know
   * which blobs each destination has); a backup of an unchanged library may never load them.
   */
  private ensureIndexes(): Promise<unknown> {
    return (this.indexes ??= Promise.all(this.targets.map((t) => t.repo.loadIndex())));
  }

  /** A parent tree of one destination; a damaged one only means its files are read again. */
  private async loadTree(t: ArchiveTarget, id: ID): Promise<TreeNode[] | undefined> {
    try {
      return await t.repo.loadTree(id);
    } catch {
      return undefined;
    }
  }

  /** The path components above the targets (`/home/ann` of `/home/ann/Pictures`). */
  private async archiveTrie(level: Trie, dir: string, parentNodes: LazyNodes[]): Promise<Built[]> {
    const byName = parentNodes.map((ns) => once(async () => new Map((await ns())?.map((n) => [n.name, n]))));
    const out: Built[] = [];
    for (const [name, entry] of level) {
      const prev: PrevNode = async (i) => (await byName[i]!()).get(name);
      if (entry.target) {
        const walked = await this.walkEntry(entry.target, name, prev);
        // Every file has been handed to the workers once the last target is walked: they stop as
        // soon as those are read.
        if (--this.walksLeft === 0) quiet(this.pool.retire());
        const built = await walked.done;
        if (!built) throw new KeepsakeError('not-found', `cannot back up ${entry.target}: it does not exist or cannot be read`);
        out.push(built);
        continue;
      }
      const p = path.join(dir, name);
      const st = this.lstat(p);
      if (!st) throw new KeepsakeError('not-found', `cannot back up below ${p}: it does not exist`);
      const prevChildren = this.targets.map((t, i) => once(async () => {
        const pv = await prev(i);
        return pv?.type === 'dir' && pv.subtree ? this.loadTree(t, pv.subtree) : undefined;
      }));
      const children = await this.archiveTrie(entry.children, p, prevChildren);
      out.push({ node: nodeFromStat(name, p, st), subtrees: await this.saveTrees(children), clean: true });
    }
    return out;
  }

  /**
   * Save a folder's tree in every destination; returns its ID per destination. The JSON is encoded
   * once for all destinations whose subfolder trees agree (the usual case).
   */
  private saveTrees(children: Built[]): Promise<ID[]> {
    const encoded = new Map<string, Buffer>();
    return this.storeTrees(this.targets.map((_, i) => {
      const key = children.map((c) => c.subtrees?.[i] ?? '').join(',');
      let bytes = encoded.get(key);
      if (!bytes) {
        // A folder's node takes this destination's subtree for the (synchronous) encoding.
        bytes = encodeTree(children.map((c) => {
          if (c.subtrees) c.node.subtree = c.subtrees[i];
          return c.node;
        }));
        encoded.set(key, bytes);
      }
      return bytes;
    }));
  }

  /** Store encoded trees, one per destination; a destination that fails here drops out of the backup. */
  private storeTrees(trees: Buffer[]): Promise<ID[]> {
    return Promise.all(this.targets.map(async (t, i) => {
      if (t.failure !== undefined) return '';
      try {
        return await t.writer.saveTreeBlob(trees[i]!);
      } catch (err) {
        t.fail(err);
        return '';
      }
    }));
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
    for (const t of this.targets) if (t.failure === undefined && t.writer.failed !== undefined) t.fail(t.writer.failed);
    // Once every destination has failed there is nothing left to back up to.
    if (this.targets.every((t) => t.failure !== undefined)) throw this.targets[0]!.failure;
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

  private fileDone(files: number, bytes: number): void {
    this.progress.filesDone += files;
    this.progress.bytesDone += bytes;
    this.emitProgress(false);
  }

  /**
   * Walk one file-system entry. The walk itself is sequential, depth first; what it starts (reading
   * a file, finishing a folder's trees) goes on in the background and `done` settles when it is
   * stored. Reading a file first takes one of the pool's places: when the workers are behind, the
   * walk waits, so memory stays flat however large the library is.
   */
  private async walkEntry(p: string, name: string, prev: PrevNode): Promise<Walked> {
    await this.maybeYield();
    const st = this.lstat(p);
    if (!st) {
      this.warn(p, 'vanished before it could be read', 'skipped');
      return resolved(undefined);
    }
    let node: TreeNode;
    try {
      node = nodeFromStat(name, p, st);
    } catch (err) {
      this.warn(p, (err as Error).message, 'skipped');
      return resolved(undefined);
    }
    if (node.type === 'dir') return this.walkDir(p, node, prev);
    if (node.type !== 'file') return resolved({ node, clean: true });
    await this.ensureIndexes();
    const prevs = await Promise.all(this.targets.map((_, i) => prev(i)));
    const size = node.size ?? 0;
    // Content known from any destination's parent serves all, if every destination has its blobs.
    const known = prevs.find((pv) => unchanged(pv, st));
    if (known?.content && this.targets.every((t) => t.failure !== undefined || known.content!.every((id) => t.writer.has(id)))) {
      node.content = known.content;
      this.targets.forEach((t, i) => t.countFile(prevs[i], unchanged(prevs[i], st), size));
      this.fileDone(1, size);
      return resolved({ node, clean: true });
    }
    // Only the stat's key goes on: a BigIntStats is ~2 KB of BigInts, and anything held until the
    // worker answers outlives the young generation (58,833 files: with it, together with the join
    // below, 304 MB were promoted to the old generation; without, 255).
    return this.startRead(p, statKey(st), node, prevs);
  }

  /** Take a place in the pool (the walk's backpressure), then read the file in the background. */
  private async startRead(p: string, stat: string, node: TreeNode, prevs: (TreeNode | undefined)[]): Promise<Walked> {
    await this.pool.reserve();
    return { done: quiet(this.readFile(p, stat, node, prevs)) };
  }

  private async readFile(p: string, stat: string, node: TreeNode, prevs: (TreeNode | undefined)[]): Promise<Built | undefined> {
    const r: FileResult = await this.pool.submit({
      path: p,
      size: node.size ?? 0,
      stat,
      compress: !(this.opts.incompressible ?? mediaExtensions).has(path.extname(node.name).toLowerCase()),
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
    this.targets.forEach((t, i) => {
      t.countFile(prevs[i], false, r.bytes);
      t.s.bytesRead += r.bytes;
    });
    this.fileDone(1, r.bytes);
    return { node, clean: !r.changed };
  }

  /**
   * A folder. Where the scan's fingerprint of it equals the one a destination stored with a tree in
   * an earlier backup, that tree is the answer for that destination; if all destinations have one,
   * nothing below is listed, read or compared. Otherwise its entries are walked (files compared with
   * the parent snapshots; new or changed ones read) and, once all are stored, its trees are saved.
   */
  private async walkDir(p: string, node: TreeNode, prev: PrevNode): Promise<Walked> {
    const info = this.scanner.dirs.get(p);
    this.scanner.dirs.delete(p); // each folder is walked once; its entry goes with its tree
    const hits = this.targets.map((t) => (t.failure !== undefined ? '' : t.cachedTree(p, info?.fingerprint)));
    if (info && hits.every((h) => h !== undefined)) {
      for (const t of this.targets) {
        t.s.totalFilesProcessed += info.files;
        t.s.totalBytesProcessed += info.bytes;
        t.s.filesUnmodified += info.files;
        t.s.dirsUnmodified += info.dirs + 1;
      }
      this.fileDone(info.files, info.bytes);
      return resolved({ node, subtrees: hits as ID[], clean: true });
    }
    await this.ensureIndexes();
    let names: string[];
    try {
      names = readdirSync(p);
    } catch (err) {
      this.warn(p, (err as Error).message, 'skipped');
      return resolved(undefined);
    }
    const prevMaps: (Promise<Map<string, TreeNode> | undefined> | undefined)[] = [];
    const prevChild = (name: string): PrevNode => async (i) => {
      prevMaps[i] ??= prev(i).then(async (n) => {
        const nodes = n?.type === 'dir' && n.subtree ? await this.loadTree(this.targets[i]!, n.subtree) : undefined;
        return nodes && new Map(nodes.map((c) => [c.name, c]));
      });
      return (await prevMaps[i])?.get(name);
    };
    // In the order of the tree, so it is written as entries finish (see FolderTree).
    names.sort(utf8Compare);
    const tree = new FolderTree(this.targets.length, names.length);
    // Names from readdir hold no separator and `p` is normalized: a concatenation is the join
    // (path.join normalizes again, allocating per file of every backup).
    const prefix = p.endsWith(path.sep) ? p : p + path.sep;
    for (const name of names) tree.push((await this.walkEntry(prefix + name, name, prevChild(name))).done);
    return { done: quiet(this.finishDir(p, node, prev, info, tree)) };
  }

  private async finishDir(p: string, node: TreeNode, prev: PrevNode, info: ScanInfo | undefined, tree: FolderTree): Promise<Built> {
    const { trees, clean } = await tree.finish();
    // Folders that finish after the walk (the top ones, and any whose files were read last) wait for
    // the workers to stop, so their trees and the index are stored with the workers' memory freed.
    if (this.walksLeft === 0) await this.pool.retire();
    const subtrees = await this.storeTrees(trees);
    await Promise.all(this.targets.map(async (t, i) => {
      if (t.failure !== undefined) return;
      t.countDir(await prev(i), subtrees[i]!);
      if (clean && info?.fingerprint) {
        t.spec.dirCache?.set(p, { fingerprint: info.fingerprint, tree: subtrees[i]!, files: info.files, bytes: info.bytes });
      }
    }));
    return { node, subtrees, clean };
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

/** Back up into several repositories at once (one read of each file); a result per repository. */
export async function backupMany(targets: TargetSpec[], opts: BackupOptions): Promise<TargetResult[]> {
  return new Archiver(targets, opts).run();
}

/** Back up into one repository; its failure is the backup's failure. */
export async function backup(repo: Repository, opts: BackupOptions & { parent?: StoredSnapshot; dirCache?: DirCache }): Promise<BackupResult> {
  const [r] = await backupMany([{ repo, parent: opts.parent, dirCache: opts.dirCache }], opts);
  if (!r!.ok) throw r!.error;
  return r!;
}
