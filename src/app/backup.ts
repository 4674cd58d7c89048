/** Use-case: back up folders into one or more repositories, with locks, parents and summaries. */
import os from 'node:os';
import path from 'node:path';
import { backupMany } from '../core/archiver.js';
import { type BackupProgress, type BackupResult, type BackupWarning } from '../core/backup-types.js';
import { acquireLock, type Lock } from '../core/lock.js';
import { type Scanner } from '../core/scanner.js';
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
  /** The paths' scan, started early (see EarlyScan in scan.ts); awaited once the repositories are ready. */
  scan?: Promise<Scanner>;
}

export interface BackupOutcome extends BackupResult {
  parent?: string;
  /** A previous run on this machine was cut off; what it had uploaded was kept. */
  recoveredInterruptedRun: boolean;
}

export async function runBackup(repo: Repository, req: BackupRequest): Promise<BackupOutcome> {
  const [r] = await runBackupMany([repo], req);
  if (!r!.ok) throw r!.error;
  return r!.outcome;
}

export type ManyOutcome = { ok: true; outcome: BackupOutcome } | { ok: false; error: unknown };

interface Prepared {
  repo: Repository;
  lock: Lock;
  parent?: StoredSnapshot;
  dirCache?: FileDirCache;
}

/**
 * Back up the same folders into several repositories in one pass: each file is read once and feeds
 * every repository (they must share chunker parameters). A repository that cannot be locked or
 * fails along the way gets its error; the others go on.
 */
export async function runBackupMany(repos: Repository[], req: BackupRequest): Promise<ManyOutcome[]> {
  const out: ManyOutcome[] = repos.map(() => ({ ok: false, error: undefined }));
  const ready: { i: number; p: Prepared }[] = [];
  for (const [i, repo] of repos.entries()) {
    try {
      ready.push({ i, p: await prepare(repo, req) });
    } catch (err) {
      out[i] = { ok: false, error: err };
    }
  }
  try {
    if (ready.length === 0) return out;
    const results = await backupMany(ready.map(({ p }) => ({ repo: p.repo, parent: p.parent, dirCache: p.dirCache })), {
      beforeWrite: async () => {
        await Promise.all(ready.map(({ p }) => p.lock.ready));
      },
      paths: req.paths,
      scan: await req.scan,
      tags: req.tags,
      hostname: req.hostname ?? os.hostname(),
      signal: req.signal,
      onProgress: req.onProgress,
      onWarning: req.onWarning,
      programVersion: `keepsake ${version}`,
    });
    for (const [k, r] of results.entries()) {
      const { i, p } = ready[k]!;
      if (r.ok) {
        // A cache that cannot be written only costs time.
        if (p.dirCache) await p.repo.list('index').then((ids) => p.dirCache!.save(ids)).catch(() => undefined);
        out[i] = { ok: true, outcome: { ...r, parent: p.parent?.id, recoveredInterruptedRun: p.lock.recoveredStale } };
      } else out[i] = { ok: false, error: r.error };
    }
    return out;
  } finally {
    // The lock of a failed run (e.g. the destination went away) may be impossible to remove; that
    // must not hide why the backup failed. Left behind, it marks the run as interrupted, and the
    // next backup indexes the packs this one uploaded.
    // A destination that failed is likely gone: its lock gets one short try, not a round of retries.
    await Promise.all(ready.map(({ i, p }) => {
      const release = p.lock.release().catch(() => undefined);
      return out[i]!.ok ? release : Promise.race([release, new Promise((r) => setTimeout(r, 5000).unref())]);
    }));
  }
}

async function prepare(repo: Repository, req: BackupRequest): Promise<Prepared> {
  const lock = await acquireLock(repo, { exclusive: false, early: true, removeStale: true });
  try {
    // --force means read everything: no folder is reused from the cache either.
    const dirCache = req.env && !req.force ? await FileDirCache.load(req.env, repo.config.id) : undefined;
    // With a folder cache that is still valid, the index is loaded only if something changed.
    if (!dirCache?.trustIf(await repo.list('index')) || lock.recoveredStale) {
      req.onLoading?.('loading index');
      await repo.loadIndex();
    }
    if (lock.recoveredStale) {
      await lock.ready; // it writes an index
      const { indexOrphanPacks } = await import('../core/recover.js');
      await indexOrphanPacks(repo);
    }
    const parent = req.force ? undefined : await findParent(repo, req, req.hostname ?? os.hostname());
    return { repo, lock, parent, dirCache };
  } catch (err) {
    await lock.release().catch(() => undefined);
    throw err;
  }
}

async function findParent(repo: Repository, req: BackupRequest, hostname: string): Promise<StoredSnapshot | undefined> {
  if (req.parent) return repo.findSnapshot(req.parent);
  const paths = req.paths.map((p) => path.resolve(p));
  const candidates = (await repo.snapshots()).filter((s) => matches(s, { hosts: [hostname], paths }));
  return candidates.sort(newestFirst)[0];
}
