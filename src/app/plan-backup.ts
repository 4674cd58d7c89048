/**
 * Use-case: back up every source of the plan to every reachable destination in one pass per source:
 * each file is read once and feeds all destinations (destinations created by keepsake share chunker
 * parameters; any that do not get a pass of their own). A removable destination that is not plugged
 * in is skipped with a reminder; a destination that fails does not stop the others.
 */
import { type BackupProgress, type BackupWarning } from '../core/backup-types.js';
import { KeepsakeError } from '../core/errors.js';
import { Repository } from '../core/repository.js';
import { type Destination, type Plan } from '../plan/config.js';
import { runBackupMany, type BackupOutcome, type ManyOutcome } from './backup.js';
import { findDestination, isUnplugged, openAll, type PlanEnv } from './plan.js';
import { EarlyScan } from './scan.js';

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

interface Reached {
  d: Destination;
  repo: Repository;
  sources: SourceOutcome[];
  /** Set when the destination could not be opened or locked, or failed for every source. */
  error?: string;
}

export async function runPlanBackup(req: PlanBackupRequest): Promise<DestinationOutcome[]> {
  const { plan } = req;
  if (plan.source.length === 0) throw new KeepsakeError('invalid-argument', 'the plan has no sources', { hint: 'add one with `keepsake source add NAME PATH`' });
  if (plan.destination.length === 0) throw new KeepsakeError('invalid-argument', 'the plan has no destinations', { hint: 'add one with `keepsake destination add NAME REPO --media …`' });
  const chosen = req.destinations?.length ? req.destinations.map((n) => findDestination(plan, n)) : plan.destination;
  const out = new Map<string, DestinationOutcome>();
  const reached: Reached[] = [];
  try {
    const present = chosen.filter((d) => {
      if (!isUnplugged(d)) return true;
      out.set(d.name, { destination: d.name, status: 'skipped', message: `${d.repository} is not there (drive unplugged?); plug it in and run the backup again`, sources: [] });
      return false;
    });
    // The first source is scanned while the destinations open (see EarlyScan).
    const first = plan.source[0]!;
    const early = new EarlyScan([first.path]);
    const opened = await Promise.allSettled(openAll(present, { ...req.penv, onKeyDerivation: early.onKeyDerivation }).values());
    if (opened.some((r) => r.status === 'fulfilled')) early.opened();
    opened.forEach((r, i) => {
      const d = present[i]!;
      if (r.status === 'fulfilled') reached.push({ d, repo: r.value, sources: [] });
      else out.set(d.name, { destination: d.name, status: 'failed', message: (r.reason as Error).message, sources: [] });
    });
    // One pass per source and group of destinations that cut files alike (normally: all of them).
    const groups = new Map<bigint, Reached[]>();
    for (const r of reached) groups.set(r.repo.config.chunkerPolynomial, [...(groups.get(r.repo.config.chunkerPolynomial) ?? []), r]);
    for (const group of groups.values()) {
      for (const s of plan.source) {
        // Taken once: a second group of destinations gets a scan of its own.
        const scan = s === first ? early.take() : undefined;
        if (req.signal?.aborted) throw new KeepsakeError('interrupted', 'backup interrupted');
        req.onStart?.(group.map((r) => r.d.name).join(', '), s.name);
        const results = await runBackupMany(group.map((r) => r.repo), {
          paths: [s.path],
          scan,
          tags: [s.name],
          hostname: req.hostname,
          force: req.force,
          signal: req.signal,
          env: req.penv.env,
          onProgress: req.onProgress,
          onWarning: (w) => req.onWarning?.(group.map((r) => r.d.name).join(', '), w),
        }).catch((err: unknown) => {
          if (err instanceof KeepsakeError && err.code === 'interrupted') throw err;
          return group.map((): ManyOutcome => ({ ok: false, error: err }));
        });
        results.forEach((r, k) => {
          const one: SourceOutcome = { source: s.name, path: s.path, warnings: [] };
          if (r.ok) Object.assign(one, { snapshot: r.outcome.id, summary: r.outcome.summary, warnings: r.outcome.warnings });
          else one.error = (r.error as Error).message;
          group[k]!.sources.push(one);
        });
      }
    }
    for (const r of reached) await req.afterDestination?.(r.d.name, r.repo).catch(() => undefined);
  } finally {
    await Promise.all(reached.map((r) => r.repo.backend.close().catch(() => undefined)));
  }
  for (const r of reached) {
    const failed = r.sources.filter((s) => s.error);
    const skippedFiles = r.sources.some((s) => s.warnings.some((w) => w.kind === 'skipped'));
    out.set(r.d.name, {
      destination: r.d.name,
      status: failed.length > 0 ? 'failed' : skippedFiles ? 'incomplete' : 'ok',
      message: failed.length > 0 ? failed.map((s) => `${s.source}: ${s.error}`).join('; ') : undefined,
      sources: r.sources,
    });
  }
  return chosen.map((d) => out.get(d.name)!);
}
