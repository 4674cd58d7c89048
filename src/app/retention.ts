/**
 * Use-cases: forget snapshots by a retention policy without losing a photo (the attic first), and
 * prune the data nothing uses any more. Both take the exclusive lock, as restic's do.
 */
import { saveAttic, type AtticResult } from '../core/attic.js';
import { KeepsakeError } from '../core/errors.js';
import { acquireLock } from '../core/lock.js';
import { prune, type PruneStats } from '../core/prune.js';
import { type Repository } from '../core/repository.js';
import { applyPolicy, emptyPolicy, type RetentionPolicy } from '../core/retention.js';
import { type StoredSnapshot } from '../core/snapshot.js';

export interface ForgetRequest {
  policy: RetentionPolicy;
  /** Forget without keeping the last copy of photos only the forgotten snapshots hold. */
  allowLoss?: boolean;
  dryRun?: boolean;
}

export interface ForgetOutcome {
  keep: StoredSnapshot[];
  remove: StoredSnapshot[];
  reasons: Map<string, string[]>;
  /** What went to the attic (undefined with --allow-loss). */
  attic?: AtticResult;
}

export async function runForget(repo: Repository, req: ForgetRequest): Promise<ForgetOutcome> {
  if (emptyPolicy(req.policy)) {
    throw new KeepsakeError('invalid-argument', 'no retention rule given: nothing would be kept', {
      hint: 'pass at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly',
    });
  }
  const lock = await acquireLock(repo, { exclusive: !req.dryRun });
  try {
    await repo.loadIndex();
    const plan = applyPolicy(await repo.snapshots(), req.policy);
    const out: ForgetOutcome = { ...plan };
    if (plan.remove.length === 0 || req.dryRun) return out;
    // The attic is stored before any snapshot is removed: an interruption can only leave both.
    if (!req.allowLoss) out.attic = await saveAttic(repo, plan.keep, plan.remove);
    for (const s of plan.remove) await repo.backend.remove({ type: 'snapshot', name: s.id });
    return out;
  } finally {
    await lock.release();
  }
}

export async function runPrune(repo: Repository, opts: { onStep?: (what: string) => void } = {}): Promise<PruneStats> {
  const lock = await acquireLock(repo, { exclusive: true });
  try {
    return await prune(repo, opts);
  } finally {
    await lock.release();
  }
}
