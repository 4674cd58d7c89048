/** Use-case: back up folders into one repository, with the lock, the parent and the summary. */
import os from 'node:os';
import path from 'node:path';
import { backup, type BackupProgress, type BackupResult, type BackupWarning } from '../core/archiver.js';
import { acquireLock } from '../core/lock.js';
import { type Repository } from '../core/repository.js';
import { matches, newestFirst, type StoredSnapshot } from '../core/snapshot.js';
import { FileDirCache } from './dir-cache.js';
import { version } from './version.js';

export interface BackupRequest {
  paths: string[];
  tags?: string[];
  hostname?: string;
  /** A snapshot ID to compare against; by default the newest with the same host and paths. */
  parent?: string;
  /** Read every file even if the parent shows it unchanged. */
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  onWarning?: (w: BackupWarning) => void;
  onLoading?: (what: string) => void;
  /** Where the local folder cache lives (KEEPSAKE_CACHE_DIR, XDG_CACHE_HOME); none without it. */
  env?: NodeJS.ProcessEnv;
}

export interface BackupOutcome extends BackupResult {
  parent?: string;
  /** A previous run on this machine was cut off; what it had uploaded was kept. */
  recoveredInterruptedRun: boolean;
}

export async function runBackup(repo: Repository, req: BackupRequest): Promise<BackupOutcome> {
  const lock = await acquireLock(repo, { exclusive: false, early: true, removeStale: true });
  try {
    req.onLoading?.('loading index');
    await repo.loadIndex();
    if (lock.recoveredStale) {
      const { indexOrphanPacks } = await import('../core/recover.js');
      await indexOrphanPacks(repo);
    }
    const hostname = req.hostname ?? os.hostname();
    const parent = req.force ? undefined : await findParent(repo, req, hostname);
    const dirCache = req.env ? await FileDirCache.load(req.env, repo.config.id) : undefined;
    const result = await backup(repo, {
      dirCache,
      beforeWrite: () => lock.ready,
      paths: req.paths,
      parent,
      tags: req.tags,
      hostname,
      signal: req.signal,
      onProgress: req.onProgress,
      onWarning: req.onWarning,
      programVersion: `keepsake ${version}`,
    });
    await dirCache?.save().catch(() => undefined); // a cache that cannot be written only costs time
    return { ...result, parent: parent?.id, recoveredInterruptedRun: lock.recoveredStale };
  } finally {
    await lock.release();
  }
}

async function findParent(repo: Repository, req: BackupRequest, hostname: string): Promise<StoredSnapshot | undefined> {
  if (req.parent) return repo.findSnapshot(req.parent);
  const paths = req.paths.map((p) => path.resolve(p));
  const candidates = (await repo.snapshots()).filter((s) => matches(s, { hosts: [hostname], paths }));
  return candidates.sort(newestFirst)[0];
}
