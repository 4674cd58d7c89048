/**
 * A local cache of the repository files every command reads (indexes, snapshots, the blob part of
 * tree packs), so that `snapshots`, `ls` and a no-change backup of a remote destination do not
 * download them again. Files are named by their content hash and never change, so a cached copy
 * is never stale; what the repository no longer lists is dropped. The engine states what it needs;
 * the app keeps the files (see app/disk-cache.ts).
 */
import { type ID } from './hash.js';

export type CachedType = 'index' | 'snapshot' | 'tree-pack';

export interface FileCache {
  get(type: CachedType, id: ID): Promise<Uint8Array | undefined>;
  /** Best effort: a cache that cannot be written only costs time. */
  put(type: CachedType, id: ID, data: Uint8Array): Promise<void>;
  /** Drop cached files of this type that are not in `keep` (the repository's current listing). */
  retain(type: CachedType, keep: ReadonlySet<ID>): Promise<void>;
}
