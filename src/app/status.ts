/**
 * Use-case: how safe is every photo? Refreshes the ledger from every destination that can be reached
 * (the others answer from the ledger's memory), reads the sources, and assesses 3-2-1.
 */
import { rmSync } from 'node:fs';
import { isWeakKdf } from '../core/keys.js';
import { type Repository } from '../core/repository.js';
import { assess, type Assessment, type DestinationState } from '../plan/assess.js';
import { type Plan } from '../plan/config.js';
import { Ledger, ledgerPath } from '../plan/ledger.js';
import { scanSources } from '../plan/scan.js';
import { holdings, syncDestination } from '../plan/sync.js';
import { isUnplugged, openAll, type PlanEnv } from './plan.js';

export interface StatusRequest {
  plan: Plan;
  penv: PlanEnv;
  nowMs: number;
  /** Throw the catalog away and rebuild it from the repositories. */
  rebuild?: boolean;
  /** Do not contact destinations; answer from the ledger alone. */
  offline?: boolean;
  onProgress?: (what: string) => void;
}

export interface StatusOutcome extends Assessment {
  /** The catalog was missing (or --rebuild) and was rebuilt from the repositories. */
  rebuilt: boolean;
  sourceProblems: { source: string; message: string }[];
  /** Destinations cut with another chunker polynomial: their copies of large files cannot be matched. */
  foreignChunker: string[];
}

export function openLedger(env: NodeJS.ProcessEnv, opts: { rebuild?: boolean } = {}): Ledger {
  const file = ledgerPath(env);
  if (opts.rebuild) for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  return Ledger.open(file);
}

/** Refresh the ledger from a repository that is open anyway (after a backup, forget or prune). */
export async function refreshLedger(env: NodeJS.ProcessEnv, name: string, repo: Repository, nowMs: number): Promise<void> {
  const ledger = openLedger(env);
  try {
    await syncDestination(ledger, name, repo, nowMs);
  } finally {
    ledger.close();
  }
}

export async function planStatus(req: StatusRequest): Promise<StatusOutcome> {
  const ledger = openLedger(req.penv.env, { rebuild: req.rebuild });
  // All are opened at once, then read into the catalog one after the other.
  const opening = openAll(req.offline ? [] : req.plan.destination.filter((d) => !isUnplugged(d)), req.penv);
  try {
    const rebuilt = ledger.created;
    const states: DestinationState[] = [];
    for (const d of req.plan.destination) {
      let problem: string | undefined;
      let reachable = false;
      let weakKey = false;
      if (isUnplugged(d)) problem = 'not connected';
      else if (!req.offline) {
        try {
          req.onProgress?.(`reading ${d.name}`);
          const repo = await opening.get(d.name)!;
          opening.delete(d.name);
          weakKey = isWeakKdf(repo.keyKdf);
          try {
            await syncDestination(ledger, d.name, repo, req.nowMs);
          } finally {
            await repo.backend.close();
          }
          reachable = true;
        } catch (err) {
          problem = (err as Error).message;
        }
      }
      const rec = ledger.destination(d.name);
      const snaps = ledger.snapshots(d.name);
      states.push({
        config: d,
        reachable,
        problem,
        known: rec !== undefined,
        lastBackupMs: snaps[0]?.timeMs,
        lastSeenMs: rec?.lastSeenMs,
        lastVerifiedMs: rec?.lastVerifiedMs,
        snapshots: snaps.length,
        holdings: holdings(ledger, d.name),
        weakKey,
      });
    }
    const pols = req.plan.destination.map((d) => ledger.destination(d.name)?.polynomial).filter((p): p is string => p !== undefined);
    const pol = pols[0];
    req.onProgress?.('reading the sources');
    const scan = await scanSources(ledger, req.plan.source, req.plan.destination.map((d) => d.name), pol === undefined ? undefined : BigInt(`0x${pol}`));
    const foreignChunker = req.plan.destination.filter((d) => {
      const p = ledger.destination(d.name)?.polynomial;
      return p !== undefined && p !== pol;
    }).map((d) => d.name);
    return { ...assess(req.plan.source, scan.files, states, req.nowMs), rebuilt, sourceProblems: scan.problems, foreignChunker };
  } finally {
    ledger.close();
    // Those not read because something failed first.
    await Promise.all([...opening.values()].map((p) => p.then((r) => r.backend.close(), () => undefined)));
  }
}
