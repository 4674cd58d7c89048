/**
 * Use-case: back up every source of the plan to every reachable destination, one destination at a
 * time (each destination has its own chunker polynomial and index, so each is fed by its own pass
 * over the files; the archiver serves one repository). A removable destination that is not plugged
 * in is skipped with a reminder; a destination that fails does not stop the others.
 */
import { type BackupProgress, type BackupWarning } from '../core/archiver.js';
import { KeepsakeError } from '../core/errors.js';
import { type Repository } from '../core/repository.js';
import { type Plan } from '../plan/config.js';
import { runBackup, type BackupOutcome } from './backup.js';
import { findDestination, isUnplugged, withDestination, type PlanEnv } from './plan.js';

export interface PlanBackupRequest {
  plan: Plan;
  penv: PlanEnv;
  /** Only these destinations (by name); all when empty. */
  destinations?: string[];
  hostname?: string;
  force?: boolean;
  signal?: AbortSignal;
  onStart?: (destination: string, source: string) => void;
  onProgress?: (p: BackupProgress) => void;
  onWarning?: (destination: string, w: BackupWarning) => void;
  /** Called with each destination once its sources are backed up (the ledger refreshes itself from it). */
  afterDestination?: (destination: string, repo: Repository) => Promise<void>;
}

export interface SourceOutcome {
  source: string;
  path: string;
  snapshot?: string;
  summary?: BackupOutcome['summary'];
  warnings: BackupWarning[];
  error?: string;
}

export interface DestinationOutcome {
  destination: string;
  status: 'ok' | 'incomplete' | 'skipped' | 'failed';
  /** Why it was skipped or failed. */
  message?: string;
  sources: SourceOutcome[];
}

export async function runPlanBackup(req: PlanBackupRequest): Promise<DestinationOutcome[]> {
  const { plan } = req;
  if (plan.source.length === 0) throw new KeepsakeError('invalid-argument', 'the plan has no sources', { hint: 'add one with `keepsake source add NAME PATH`' });
  if (plan.destination.length === 0) throw new KeepsakeError('invalid-argument', 'the plan has no destinations', { hint: 'add one with `keepsake destination add NAME REPO --media …`' });
  const chosen = req.destinations?.length ? req.destinations.map((n) => findDestination(plan, n)) : plan.destination;
  const out: DestinationOutcome[] = [];
  for (const d of chosen) {
    if (req.signal?.aborted) break;
    if (isUnplugged(d)) {
      out.push({ destination: d.name, status: 'skipped', message: `${d.repository} is not there (drive unplugged?); plug it in and run the backup again`, sources: [] });
      continue;
    }
    const sources: SourceOutcome[] = [];
    try {
      await withDestination(d, req.penv, async (repo) => {
        for (const s of plan.source) {
          if (req.signal?.aborted) throw new KeepsakeError('interrupted', 'backup interrupted');
          req.onStart?.(d.name, s.name);
          const one: SourceOutcome = { source: s.name, path: s.path, warnings: [] };
          sources.push(one);
          try {
            const r = await runBackup(repo, {
              paths: [s.path],
              tags: [s.name],
              hostname: req.hostname,
              force: req.force,
              signal: req.signal,
              onProgress: req.onProgress,
              onWarning: (w) => req.onWarning?.(d.name, w),
            });
            Object.assign(one, { snapshot: r.id, summary: r.summary, warnings: r.warnings });
          } catch (err) {
            if (err instanceof KeepsakeError && err.code === 'interrupted') throw err;
            one.error = (err as Error).message;
          }
        }
        await req.afterDestination?.(d.name, repo).catch(() => undefined);
      });
      const failed = sources.filter((s) => s.error);
      const skippedFiles = sources.some((s) => s.warnings.some((w) => w.kind === 'skipped'));
      out.push({
        destination: d.name,
        status: failed.length > 0 ? 'failed' : skippedFiles ? 'incomplete' : 'ok',
        message: failed.length > 0 ? failed.map((s) => `${s.source}: ${s.error}`).join('; ') : undefined,
        sources,
      });
    } catch (err) {
      if (err instanceof KeepsakeError && err.code === 'interrupted') throw err;
      out.push({ destination: d.name, status: 'failed', message: (err as Error).message, sources });
    }
  }
  return out;
}
