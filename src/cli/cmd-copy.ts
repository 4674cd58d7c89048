/** `keepsake copy --from A --to B`: bring one destination's missing snapshots over from another. */
import { type Command } from 'commander';
import { context } from './context.js';
import { bytes } from './format.js';
import { planEnv, planFile } from './plan-context.js';

export function registerCopy(program: Command): void {
  program
    .command('copy')
    .description('copy the snapshots destination A has and destination B lacks (both of the plan)')
    .requiredOption('--from <destination>', 'destination to copy from')
    .requiredOption('--to <destination>', 'destination to copy to')
    .option('--dry-run', 'only list the snapshots that would be copied')
    .addHelpText('after', `
Both repositories must use the same chunker parameters (as with restic's --copy-chunker-params);
destinations created with \`keepsake destination add … --init\` share them.`)
    .action(async (opts: { from: string; to: string; dryRun?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const { loadPlan } = await import('../plan/config.js');
      const { findDestination, withDestination } = await import('../app/plan.js');
      const { runCopy } = await import('../app/copy.js');
      const { refreshLedger } = await import('../app/status.js');
      const plan = await loadPlan(planFile(cmd), { required: true });
      const penv = planEnv(ctx.quiet);
      const [a, b] = [findDestination(plan, opts.from), findDestination(plan, opts.to)];
      const r = await withDestination(a, penv, (from) => withDestination(b, penv, async (to) => {
        const out = await runCopy(from, to, { dryRun: opts.dryRun });
        if (!opts.dryRun) await refreshLedger(process.env, b.name, to, Date.now()).catch(() => undefined);
        return out;
      }));
      if (ctx.json) ctx.emitJson({ message_type: 'copy', from: a.name, to: b.name, dry_run: Boolean(opts.dryRun), ...r });
      else if (opts.dryRun) ctx.say(`${r.missing.length} snapshot(s) would be copied: ${r.missing.map((s) => s.slice(0, 8)).join(' ')}`);
      else ctx.say(`${r.snapshots} snapshot(s) copied from ${a.name} to ${b.name}, ${r.blobsCopied} blobs (${bytes(r.bytesCopied)}) transferred`);
    });
}
