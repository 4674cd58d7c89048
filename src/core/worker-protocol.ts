/** Messages between the archiver (main thread) and its chunk workers. */
import { type PackedBlob } from './pack.js';

export interface WorkerInit {
  key: { encrypt: Uint8Array; macK: Uint8Array; macR: Uint8Array };
  polynomial: string;
  packSize: number;
  arenaSize: number;
}

export interface WorkerFile {
  job: number;
  path: string;
  /** Size from the scan's lstat; a different number of bytes read means the file changed. */
  size: number;
  compress: boolean;
}

export type ToWorker =
  | { t: 'files'; files: WorkerFile[] }
  | { t: 'need'; need: Uint8Array }
  | { t: 'ack' }
  | { t: 'flush' };

export type FromWorker =
  | { t: 'hashes'; ids: string[] }
  | { t: 'pack'; id: string; data: ArrayBuffer; offset: number; length: number; blobs: PackedBlob[] }
  | { t: 'file-done'; job: number; content: string[]; bytes: number; changed: boolean }
  | { t: 'file-error'; job: number; code: string; message: string }
  | { t: 'batch-done' }
  | { t: 'flushed' }
  | { t: 'fatal'; message: string };
