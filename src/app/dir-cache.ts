/**
 * The folder cache kept beside each repository's local state: folder path → fingerprint of its
 * listing and the tree stored for it. It lets a backup of an unchanged library skip decoding the
 * parent snapshot entirely. It is only a cache: losing it costs time, never correctness, and every
 * tree it names is checked against the repository's index before use.
 */
import { readFile } from 'node:fs/promises';
import { writePrivateFile } from '../util/private-file.js';
import os from 'node:os';
import path from 'node:path';
import { type DirCache, type DirCacheEntry } from '../core/archive-target.js';
import { isID } from '../core/hash.js';


export function cacheRoot(env: NodeJS.ProcessEnv): string {
  if (env.KEEPSAKE_CACHE_DIR) return env.KEEPSAKE_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'keepsake');
}

export class FileDirCache implements DirCache {
  private readonly old = new Map<string, DirCacheEntry>();
  private readonly fresh = new Map<string, DirCacheEntry>();
  /** The repository's index files when the cache was written. */
  private indexes: string[] = [];
  trusted = false;

  private constructor(private readonly file: string) {}

  static async load(env: NodeJS.ProcessEnv, repoId: string): Promise<FileDirCache> {
    const c = new FileDirCache(path.join(cacheRoot(env), repoId, 'dirs.json'));
    try {
      const raw = JSON.parse(await readFile(c.file, 'utf8')) as unknown;
      // Checked entry by entry rather than with a schema library: tens of thousands of entries,
      // read at the start of every backup. A malformed entry is skipped (it is only a cache).
      const file = raw as { version?: unknown; dirs?: unknown; indexes?: unknown };
      const dirs = file?.version === 1 ? file.dirs : undefined;
      if (Array.isArray(file?.indexes)) c.indexes = file.indexes.filter(isID);
      if (typeof dirs === 'object' && dirs !== null) {
        for (const [dir, e] of Object.entries(dirs)) {
          if (!Array.isArray(e) || e.length !== 4) continue;
          const [fingerprint, tree, files, bytes] = e as unknown[];
          if (typeof fingerprint === 'string' && isID(tree) && Number.isSafeInteger(files) && Number.isSafeInteger(bytes)) {
            c.old.set(dir, { fingerprint, tree, files: files as number, bytes: bytes as number });
          }
        }
      }
    } catch {
      // Missing or unreadable: start empty.
    }
    return c;
  }

  /**
   * Use the cache only if every index file that existed when it was written is still there:
   * removing blobs (prune, an index repair) always rewrites the indexes, and then a full walk
   * must check every file against the index first.
   */
  trustIf(currentIndexes: readonly string[]): boolean {
    const now = new Set(currentIndexes);
    this.trusted = this.indexes.length > 0 && this.old.size > 0 && this.indexes.every((id) => now.has(id));
    return this.trusted;
  }

  get(dir: string): DirCacheEntry | undefined {
    return this.old.get(dir);
  }

  set(dir: string, entry: DirCacheEntry): void {
    this.fresh.set(dir, entry);
  }

  /**
   * Write what this backup confirmed, plus the old entries of folders it did not rewrite, with the
   * repository's index files as they are now.
   */
  async save(currentIndexes: readonly string[]): Promise<void> {
    const changed = [...this.fresh].some(([d, e]) => {
      const o = this.old.get(d);
      return !o || o.fingerprint !== e.fingerprint || o.tree !== e.tree;
    });
    if (!changed && this.trusted) return;
    const dirs: Record<string, [string, string, number, number]> = {};
    for (const [d, e] of this.old) dirs[d] = [e.fingerprint, e.tree, e.files, e.bytes];
    for (const [d, e] of this.fresh) dirs[d] = [e.fingerprint, e.tree, e.files, e.bytes];
    await writePrivateFile(this.file, JSON.stringify({ version: 1, indexes: currentIndexes, dirs }));
  }
}
