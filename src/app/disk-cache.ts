/**
 * The local cache of a remote repository's indexes, snapshots and tree packs, in the user's cache
 * folder (KEEPSAKE_CACHE_DIR, $XDG_CACHE_HOME/keepsake, ~/.cache/keepsake), one folder per repository
 * ID. Local repositories are read directly: caching a disk on the same disk gains nothing.
 * KEEPSAKE_NO_CACHE=1 turns it off.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { writePrivateFile } from '../util/private-file.js';
import path from 'node:path';
import { type CachedType, type FileCache } from '../core/file-cache.js';
import { isID, type ID } from '../core/hash.js';
import { type Repository } from '../core/repository.js';
import { cacheRoot } from './dir-cache.js';

const folders: Record<CachedType, string> = { index: 'index', snapshot: 'snapshots', 'tree-pack': 'tree-packs' };

export class DiskFileCache implements FileCache {
  constructor(private readonly root: string) {}

  private file(type: CachedType, id: ID): string {
    return path.join(this.root, folders[type], id);
  }

  async get(type: CachedType, id: ID): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.file(type, id));
    } catch {
      return undefined;
    }
  }

  async put(type: CachedType, id: ID, data: Uint8Array): Promise<void> {
    await writePrivateFile(this.file(type, id), data).catch(() => undefined);
  }

  async retain(type: CachedType, keep: ReadonlySet<ID>): Promise<void> {
    const dir = path.join(this.root, folders[type]);
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => isID(n) && !keep.has(n)).map((n) => rm(path.join(dir, n), { force: true })));
  }
}

/** Give a remote repository its local cache (not for local folders, not with KEEPSAKE_NO_CACHE). */
export function attachCache(repo: Repository, env: NodeJS.ProcessEnv): Repository {
  if (env.KEEPSAKE_NO_CACHE === '1' || repo.backend.location.startsWith('local:')) return repo;
  repo.useCache(new DiskFileCache(path.join(cacheRoot(env), repo.config.id)));
  return repo;
}
