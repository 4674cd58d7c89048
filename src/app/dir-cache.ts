/**
 * The folder cache kept beside each repository's local state: folder path → fingerprint of its
 * listing and the tree stored for it. It lets a backup of an unchanged library skip decoding the
 * parent snapshot entirely. It is only a cache: losing it costs time, never correctness, and every
 * tree it names is checked against the repository's index before use.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { type DirCache, type DirCacheEntry } from '../core/archive-target.js';

const fileSchema = z.object({
  version: z.literal(1),
  dirs: z.record(z.string(), z.tuple([z.string(), z.string(), z.number(), z.number()])),
});

export function cacheRoot(env: NodeJS.ProcessEnv): string {
  if (env.KEEPSAKE_CACHE_DIR) return env.KEEPSAKE_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'keepsake');
}

export class FileDirCache implements DirCache {
  private readonly old = new Map<string, DirCacheEntry>();
  private readonly fresh = new Map<string, DirCacheEntry>();

  private constructor(private readonly file: string) {}

  static async load(env: NodeJS.ProcessEnv, repoId: string): Promise<FileDirCache> {
    const c = new FileDirCache(path.join(cacheRoot(env), repoId, 'dirs.json'));
    try {
      const r = fileSchema.safeParse(JSON.parse(await readFile(c.file, 'utf8')));
      if (r.success) {
        for (const [dir, [fingerprint, tree, files, bytes]] of Object.entries(r.data.dirs)) {
          c.old.set(dir, { fingerprint, tree, files, bytes });
        }
      }
    } catch {
      // Missing or unreadable: start empty.
    }
    return c;
  }

  get(dir: string): DirCacheEntry | undefined {
    return this.old.get(dir);
  }

  set(dir: string, entry: DirCacheEntry): void {
    this.fresh.set(dir, entry);
  }

  /** Write what this backup confirmed, plus the old entries of folders it did not rewrite. */
  async save(): Promise<void> {
    const dirs: Record<string, [string, string, number, number]> = {};
    for (const [d, e] of this.old) dirs[d] = [e.fingerprint, e.tree, e.files, e.bytes];
    for (const [d, e] of this.fresh) dirs[d] = [e.fingerprint, e.tree, e.files, e.bytes];
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ version: 1, dirs }), { mode: 0o600 });
    await rename(tmp, this.file);
  }
}
