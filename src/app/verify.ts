/**
 * Use-case: verify the plan's destinations (`keepsake check` without --repo) and remember when each
 * was verified, so `status` can say it. A drive that is not plugged in is skipped with a reminder.
 */
import { type CheckOptions, type CheckResult } from '../core/checker.js';
import { type Plan } from '../plan/config.js';
import { CheckRun } from './browse.js';
import { isUnplugged, localFolder, withDestination, type PlanEnv } from './plan.js';
import { openLedger } from './status.js';

export type VerifyOutcome =
  | { destination: string; status: 'checked'; result: CheckResult }
  | { destination: string; status: 'skipped' | 'failed'; message: string };

/** Record a clean check of these destinations in the ledger (only checks that read data count). */
export function recordVerified(env: NodeJS.ProcessEnv, names: string[], atMs: number): void {
  if (names.length === 0) return;
  const ledger = openLedger(env);
  try {
    for (const n of names) ledger.markVerified(n, atMs);
  } finally {
    ledger.close();
  }
}

/** The plan's destinations that a repository string names (a folder compares by its full path). */
export function destinationsAt(plan: Plan, location: string): string[] {
  const folder = localFolder(location);
  return plan.destination
    .filter((d) => d.repository === location || (folder !== undefined && localFolder(d.repository) === folder))
    .map((d) => d.name);
}

export async function verifyPlan(plan: Plan, penv: PlanEnv, opts: CheckOptions, nowMs: () => number): Promise<VerifyOutcome[]> {
  const out: VerifyOutcome[] = [];
  for (const d of plan.destination) {
    if (isUnplugged(d)) {
      out.push({ destination: d.name, status: 'skipped', message: `${d.repository} is not there (drive unplugged?); plug it in to verify it` });
      continue;
    }
    const run = new CheckRun(opts);
    try {
      const result = await withDestination(d, { ...penv, keyDerivation: run.keyDerivation, onKeyDerivation: run.onKeyDerivation }, (repo) => run.run(repo));
      if (result.ok && (opts.readData || opts.readDataSubset !== undefined)) recordVerified(penv.env, [d.name], nowMs());
      out.push({ destination: d.name, status: 'checked', result });
    } catch (err) {
      out.push({ destination: d.name, status: 'failed', message: (err as Error).message });
    } finally {
      await run.close();
    }
  }
  return out;
}
