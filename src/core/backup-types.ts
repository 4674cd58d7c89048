/** What a backup takes and gives: options, progress, warnings, results. */
import { type BackupSummary } from './archive-target.js';
import { type ID } from './hash.js';
import { type Scanner } from './scanner.js';
import { type Snapshot } from './snapshot.js';

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

export interface BackupOptions {
  paths: string[];
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
  /**
   * The targets already scanned with folder fingerprints (Scanner.scanPaths), e.g. while the
   * repository was being opened; otherwise the backup scans first.
   */
  scan?: Scanner;
  /** Called after the scan; nothing is written before it resolves (the locks' confirmation), and if it rejects the backup fails. */
  beforeWrite?: () => Promise<void>;
}

export interface BackupResult {
  id: ID;
  snapshot: Snapshot;
  summary: BackupSummary;
  warnings: BackupWarning[];
}

/** Per destination: its snapshot, or why it has none. */
export type TargetResult = (BackupResult & { ok: true }) | { ok: false; error: unknown; summary: BackupSummary; warnings: BackupWarning[] };

export const mediaExtensions: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.heic', '.heif', '.avif', '.webp', '.png', '.gif', '.mp4', '.mov', '.m4v', '.3gp', '.avi', '.mkv',
  '.mts', '.m2ts', '.mp3', '.m4a', '.aac', '.zip', '.gz', '.xz', '.zst', '.7z', '.cr2', '.cr3', '.nef', '.arw', '.dng', '.raf', '.orf', '.rw2',
]);
