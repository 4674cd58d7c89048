/** Messages between the archiver (main thread) and its chunk workers. */
import { type BigIntStats } from 'node:fs';
import { type PackedBlob } from './pack.js';
import { type Staging } from './pack-builder.js';

export interface WorkerInit {
  /** One per destination: every chunk is read and hashed once, then encrypted for each that needs it. */
  destinations: { key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array }; compress: boolean; staging: Staging }[];
  polynomial: string;
  packSize: number;
  arenaSize: number;
  /** Packs a worker may have uploading at once; it keeps filling the next one meanwhile. */
  packsInFlight: number;
}

export interface WorkerFile {
  job: number;
  path: string;
  /** Size from the scan's lstat; a different number of bytes read means the file changed. */
  size: number;
  /**
   * statKey() of that lstat. The worker compares it with the file's fstat once read: a file that
   * changed after it was listed, before or while it was read, is reported as changed (the stored
   * metadata and bytes may not belong together). It also saves the fstat the worker made before
   * reading (~4 µs each here, 58,833 of them in a first backup of as many small files).
   */
  stat: string;
  /** Worth trying zstd (not already-compressed media); applies to format v2 destinations only. */
  compress: boolean;
}

export type ToWorker =
  | { t: 'files'; files: WorkerFile[] }
  /** need[chunk * destinations + d]: 1 if destination d must store that chunk. */
  | { t: 'need'; need: Uint8Array }
  /** The writer is done with a pack (uploaded, or failed). */
  | { t: 'ack' }
  | { t: 'flush' }
  /** zstd for the main thread: a tree blob or an index file (see ChunkPool.compress). */
  | { t: 'compress'; req: number; data: Uint8Array };

export type FromWorker =
  | { t: 'hashes'; ids: string[] }
  /** A finished pack file in the destination's staging folder, to upload. */
  | { t: 'pack'; dest: number; id: string; file: string; size: number; blobs: PackedBlob[] }
  /** Writing a destination's pack file failed; the worker stores nothing more for it. */
  | { t: 'pack-error'; dest: number; code: string; message: string }
  | { t: 'file-done'; job: number; content: string[]; bytes: number; changed: boolean }
  | { t: 'file-error'; job: number; code: string; message: string }
  | { t: 'batch-done' }
  | { t: 'flushed' }
  | { t: 'compressed'; req: number; data: Uint8Array }
  | { t: 'fatal'; message: string };

/** What a change to a file moves: its size, modification and change times. */
export function statKey(st: BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
