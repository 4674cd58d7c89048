/**
 * The folder cache kept beside each repository's local state: folder path → fingerprint of its
 * listing and the tree stored for it. It lets a backup of an unchanged library skip decoding the
 * parent snapshot entirely. It is only a cache: losing it costs time, never correctness, and every
 * tree it names is checked against the repository's index before use.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writePrivateFile } from '../util/private-file.js';
import os from 'node:os';
import path from 'node:path';
import { type DirCache, type DirCacheEntry } from '../core/archive-target.js';
import { isID } from '../core/hash.js';
import { grown } from '../util/typed-array.js';


export function cacheRoot(env: NodeJS.ProcessEnv): string {
  if (env.KEEPSAKE_CACHE_DIR) return env.KEEPSAKE_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'keepsake');
}

type Row = [fingerprint: string, tree: string, files: number, bytes: number];

interface CacheFile {
  version: 1;
  /** The repository's index files when the cache was written. */
  indexes: string[];
  /** Written with both files; top.json is used with dirs.json only if they carry the same one. */
  generation?: string;
  dirs: Record<string, Row>;
}

/**
 * Folder path → cache entry, with the two IDs kept as bytes in one array and the counts in another:
 * ~170 bytes a folder where a map of objects with hex strings took ~330. A first backup of a library
 * of 30,000 folders fills one of these, and it was the largest part of the main thread's heap at
 * the end of the backup, its peak of memory.
 */
export class EntryTable {
  private readonly rows = new Map<string, number>();
  /** Per row: the fingerprint's 32 bytes, then the tree ID's. */
  private ids = new Uint8Array(64 * 256);
  /** Per row: files, bytes. */
  private counts = new Float64Array(2 * 256);

  get size(): number {
    return this.rows.size;
  }

  has(dir: string): boolean {
    return this.rows.has(dir);
  }

  keys(): IterableIterator<string> {
    return this.rows.keys();
  }

  get(dir: string): DirCacheEntry | undefined {
    const row = this.rows.get(dir);
    if (row === undefined) return undefined;
    const ids = Buffer.from(this.ids.buffer, row * 64, 64);
    return { fingerprint: ids.toString('hex', 0, 32), tree: ids.toString('hex', 32, 64), files: this.counts[row * 2]!, bytes: this.counts[row * 2 + 1]! };
  }

  /** An entry whose IDs are not 64 hex digits each (a fingerprint is a SHA-256 too) is not kept. */
  set(dir: string, e: DirCacheEntry): void {
    if (!isID(e.fingerprint) || !isID(e.tree)) return;
    let row = this.rows.get(dir);
    if (row === undefined) {
      row = this.rows.size;
      if ((row + 1) * 64 > this.ids.length) this.grow();
      this.rows.set(dir, row);
    }
    const ids = Buffer.from(this.ids.buffer, row * 64, 64);
    ids.write(e.fingerprint, 0, 32, 'hex');
    ids.write(e.tree, 32, 32, 'hex');
    this.counts[row * 2] = e.files;
    this.counts[row * 2 + 1] = e.bytes;
  }

  private grow(): void {
    this.ids = grown(this.ids, this.ids.length * 2);
    this.counts = grown(this.counts, this.counts.length * 2);
  }
}

/**
 * Two files: dirs.json holds every folder, top.json only the top folders (those not inside another).
 * A backup of an unchanged library looks up its top folders and nothing else, so it reads the small
 * file only; the large one (one line per folder: tens of thousands) is read the first time a folder
 * below the top is looked up or the cache is rewritten.
 */
export class FileDirCache implements DirCache {
  private readonly top = new EntryTable();
  private old: EntryTable | undefined;
  private readonly fresh = new EntryTable();
  private indexes: string[] = [];
  private generation: string | undefined;
  trusted = false;

  private constructor(private readonly folder: string) {}

  static async load(env: NodeJS.ProcessEnv, repoId: string): Promise<FileDirCache> {
    const c = new FileDirCache(path.join(cacheRoot(env), repoId));
    const top = parseCacheFile(await readFile(path.join(c.folder, 'top.json'), 'utf8').catch(() => undefined), c.top);
    if (top) {
      c.indexes = top.indexes;
      c.generation = top.generation;
    } else {
      // No top.json (a cache written before it existed): the whole cache, now.
      c.loadAll();
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
    const entries = this.old?.size ?? this.top.size;
    this.trusted = this.indexes.length > 0 && entries > 0 && this.indexes.every((id) => now.has(id));
    return this.trusted;
  }

  get(dir: string): DirCacheEntry | undefined {
    return this.top.get(dir) ?? this.all().get(dir);
  }

  set(dir: string, entry: DirCacheEntry): void {
    this.fresh.set(dir, entry);
  }

  private all(): EntryTable {
    if (!this.old) this.loadAll();
    return this.old!;
  }

  /** dirs.json, synchronously (lookups are synchronous); ignored unless it belongs with top.json. */
  private loadAll(): void {
    this.old = new EntryTable();
    let text: string | undefined;
    try {
      text = readFileSync(path.join(this.folder, 'dirs.json'), 'utf8');
    } catch {
      return;
    }
    const all = new EntryTable();
    const file = parseCacheFile(text, all);
    if (!file) return;
    if (this.top.size > 0 && file.generation !== this.generation) return; // cut off between the two writes
    if (this.top.size === 0) this.indexes = file.indexes;
    this.old = all;
  }

  /**
   * Write what this backup confirmed, plus the old entries of folders it did not rewrite, with the
   * repository's index files as they are now.
   */
  async save(currentIndexes: readonly string[]): Promise<void> {
    const changed = [...this.fresh.keys()].some((d) => {
      const e = this.fresh.get(d)!;
      const o = this.get(d);
      return !o || o.fingerprint !== e.fingerprint || o.tree !== e.tree;
    });
    if (!changed && this.trusted) return;
    const all = this.all();
    const dirs = [...this.fresh.keys(), ...[...all.keys()].filter((d) => !this.fresh.has(d))];
    const entry = (d: string): DirCacheEntry => this.fresh.get(d) ?? all.get(d)!;
    const generation = randomBytes(8).toString('hex');
    // Written piece by piece: tens of thousands of folders would make one string of megabytes.
    function* file(names: string[]): Generator<string> {
      yield `{"version":1,"indexes":${JSON.stringify(currentIndexes)},"generation":"${generation}","dirs":{`;
      for (let i = 0; i < names.length; i++) {
        const e = entry(names[i]!);
        const row: Row = [e.fingerprint, e.tree, e.files, e.bytes];
        yield `${i > 0 ? ',' : ''}${JSON.stringify(names[i])}:${JSON.stringify(row)}`;
      }
      yield '}}';
    }
    // dirs.json first: top.json names the generation it belongs with.
    await writePrivateFile(path.join(this.folder, 'dirs.json'), file(dirs));
    await writePrivateFile(path.join(this.folder, 'top.json'), file(topFolders(dirs)));
  }
}

/**
 * Checked entry by entry rather than with a schema library: tens of thousands of entries, read at
 * the start of a backup. A malformed entry is skipped (it is only a cache); a malformed file is none.
 */
function parseCacheFile(text: string | undefined, into: EntryTable): { indexes: string[]; generation?: string } | undefined {
  if (text === undefined) return undefined;
  let file: Partial<CacheFile> | undefined;
  try {
    file = JSON.parse(text) as Partial<CacheFile>;
  } catch {
    return undefined;
  }
  if (file?.version !== 1 || typeof file.dirs !== 'object' || file.dirs === null) return undefined;
  for (const [dir, e] of Object.entries(file.dirs)) {
    if (!Array.isArray(e) || e.length !== 4) continue;
    const [fingerprint, tree, files, bytes] = e as unknown[];
    if (isID(fingerprint) && isID(tree) && Number.isSafeInteger(files) && Number.isSafeInteger(bytes)) {
      into.set(dir, { fingerprint, tree, files: files as number, bytes: bytes as number });
    }
  }
  const indexes = Array.isArray(file.indexes) ? file.indexes.filter(isID) : [];
  return { indexes, generation: typeof file.generation === 'string' ? file.generation : undefined };
}

/** The folders that are not inside another of the list. */
function topFolders(dirs: string[]): string[] {
  const set = new Set(dirs);
  return dirs.filter((d) => {
    for (let p = d, up = path.dirname(p); up !== p; p = up, up = path.dirname(p)) if (set.has(up)) return false;
    return true;
  });
}
