/** `keepsake forget` and `keepsake prune`: retention that never loses a photo, on one repository or the plan. */
import { type Command } from 'commander';
import { type ForgetOutcome } from '../app/retention.js';
import { type PruneStats } from '../core/prune.js';
import { type Repository } from '../core/repository.js';
import { context, type Ctx } from './context.js';
import { ExitCode } from './exit.js';
import { bytes } from './format.js';
import { planEnv, planFile } from './plan-context.js';

const int = (v: string) => {
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a count: ${v}`);
  return n;
};

/** Run `fn` on --repo, or on every reachable destination of the plan (or those named). */
async function eachRepository(cmd: Command, ctx: Ctx, names: string[], fn: (repo: Repository, label: string) => Promise<void>): Promise<void> {
  if (cmd.optsWithGlobals<{ repo?: string }>().repo || process.env.KEEPSAKE_REPOSITORY) {
    const { withRepository } = await import('../app/repo.js');
    await withRepository(await ctx.ref(), (repo) => fn(repo, repo.backend.location));
    return;
  }
  const { loadPlan } = await import('../plan/config.js');
  const { isUnplugged, findDestination, withDestination } = await import('../app/plan.js');
  const { refreshLedger } = await import('../app/status.js');
  const plan = await loadPlan(planFile(cmd), { required: true });
  const chosen = names.length ? names.map((n) => findDestination(plan, n)) : plan.destination;
  const failed: string[] = [];
  for (const d of chosen) {
    if (isUnplugged(d)) {
      ctx.note(`reminder: ${d.name} skipped: ${d.repository} is not there (drive unplugged?)`);
      continue;
    }
    try {
      await withDestination(d, planEnv(ctx.quiet), async (repo) => {
        await fn(repo, d.name);
        await refreshLedger(process.env, d.name, repo, Date.now()).catch(() => undefined);
      });
    } catch (err) {
      failed.push(d.name);
      process.stderr.write(`error: ${d.name}: ${(err as Error).message}\n`);
    }
  }
  if (failed.length > 0) {
    ctx.note(`${failed.length} destination(s) failed: ${failed.join(', ')}`);
    process.exitCode = ExitCode.destinationFailed;
  }
}

function sayForget(ctx: Ctx, label: string, r: ForgetOutcome, dryRun: boolean): void {
  if (ctx.json) {
    ctx.emitJson({
      message_type: 'forget', repository: label, dry_run: dryRun,
      keep: r.keep.map((s) => ({ id: s.id, time: s.time, paths: s.paths, tags: s.tags ?? [], reasons: r.reasons.get(s.id) ?? [] })),
      remove: r.remove.map((s) => ({ id: s.id, time: s.time, paths: s.paths, tags: s.tags ?? [] })),
      attic: r.attic ? { snapshot: r.attic.snapshot ?? null, files: r.attic.files, paths: r.attic.paths } : null,
    });
    return;
  }
  ctx.say(`${label}: keep ${r.keep.length} snapshot(s), ${dryRun ? 'would remove' : 'removed'} ${r.remove.length}`);
  for (const s of r.remove) ctx.say(`  - ${s.id.slice(0, 8)}  ${s.time.slice(0, 19)}  ${s.paths.join(' ')}`);
  if (r.attic?.snapshot) {
    ctx.say(`  ${r.attic.files} file(s) held only by the forgotten snapshots were kept in attic snapshot ${r.attic.snapshot.slice(0, 8)}`);
    ctx.say(`  restore them with: keepsake restore ${r.attic.snapshot.slice(0, 8)} --target ~/restored (or restic restore)`);
  } else if (!r.attic && r.remove.length > 0 && !dryRun) ctx.note('  --allow-loss: files only in the forgotten snapshots are gone once you prune');
}

function sayPrune(ctx: Ctx, label: string, s: PruneStats): void {
  if (ctx.json) ctx.emitJson({ message_type: 'prune', repository: label, ...s });
  else ctx.say(`${label}: ${s.packsRemoved + s.packsUnindexed} pack(s) deleted, ${s.packsRepacked} repacked into ${s.packsWritten}, ${bytes(s.bytesFreed)} freed`);
}

export function registerForget(program: Command): void {
  program
    .command('forget')
    .description('remove snapshots by a retention policy; photos only they hold move to an attic snapshot')
    .option('--keep-last <n>', 'keep the n newest snapshots', int)
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last n days that have one', int)
    .option('--keep-weekly <n>', 'the same per week', int)
    .option('--keep-monthly <n>', 'the same per month', int)
    .option('--keep-yearly <n>', 'the same per year', int)
    .option('--allow-loss', 'do not keep files that only the forgotten snapshots hold (no attic)')
    .option('--dry-run', 'only show what would be removed')
    .option('--prune', 'prune afterwards')
    .option('--destination <name>', 'plan mode: only this destination (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .addHelpText('after', `
Snapshots are grouped by host and paths, as restic groups them; attic snapshots are always kept.
With --repo, one repository; without it, every reachable destination of the plan. Data is freed
only by \`keepsake prune\` (or --prune).`)
    .action(async (opts: { keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; keepYearly?: number;
      allowLoss?: boolean; dryRun?: boolean; prune?: boolean; destination: string[] }, cmd: Command) => {
      const ctx = context(cmd);
      const { runForget, runPrune } = await import('../app/retention.js');
      const policy = { last: opts.keepLast, daily: opts.keepDaily, weekly: opts.keepWeekly, monthly: opts.keepMonthly, yearly: opts.keepYearly };
      await eachRepository(cmd, ctx, opts.destination, async (repo, label) => {
        const r = await runForget(repo, { policy, allowLoss: opts.allowLoss, dryRun: opts.dryRun });
        sayForget(ctx, label, r, Boolean(opts.dryRun));
        if (opts.prune && !opts.dryRun) sayPrune(ctx, label, await runPrune(repo));
      });
    });
  program
    .command('prune')
    .description('delete data no snapshot uses any more (repacking partly used packs)')
    .option('--destination <name>', 'plan mode: only this destination (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .action(async (opts: { destination: string[] }, cmd: Command) => {
      const ctx = context(cmd);
      const { runPrune } = await import('../app/retention.js');
      await eachRepository(cmd, ctx, opts.destination, async (repo, label) => {
        sayPrune(ctx, label, await runPrune(repo, { onStep: (w) => !ctx.json && ctx.note(`${label}: ${w}`) }));
      });
    });
}
