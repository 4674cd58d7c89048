import { type Command, InvalidArgumentError } from 'commander';
import { type CheckResult } from '../core/checker.js';
import { context, type Ctx } from './context.js';
import { ExitCode } from './exit.js';
import { bytes, count } from './format.js';
import { planEnv, planFile } from './plan-context.js';

function percent(v: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(v);
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError('give a percentage such as 10%');
  return n / 100;
}

interface CheckFlags {
  readData?: boolean;
  readDataSubset?: number;
}

const readsData = (opts: CheckFlags): boolean => Boolean(opts.readData) || opts.readDataSubset !== undefined;

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('verify a repository (or, without --repo, every destination of the plan)')
    .option('--read-data', 'read and verify every stored byte')
    .option('--read-data-subset <n%>', 'read and verify a random share of the packs, e.g. 5%', percent)
    .addHelpText('after', `
Structure is always checked: every snapshot, tree and blob reference resolves and pack headers
agree with the index. With --read-data (or a subset) the stored bytes are read back and verified.
Damage is reported with the snapshots and files it affects. A clean check that read data is
recorded as the destination's last verification, which \`keepsake status\` shows.
Exit code 4 means damage was found (7: a plan destination could not be checked).`)
    .action(async (opts: CheckFlags, cmd: Command) => {
      const ctx = context(cmd);
      const location = cmd.optsWithGlobals<{ repo?: string }>().repo ?? process.env.KEEPSAKE_REPOSITORY;
      if (!location) return checkPlan(cmd, ctx, opts);
      const { withRepository } = await import('../app/repo.js');
      const { CheckRun } = await import('../app/browse.js');
      const run = new CheckRun(opts);
      let r: CheckResult;
      try {
        r = await withRepository({ ...(await ctx.ref()), keyDerivation: run.keyDerivation, onKeyDerivation: run.onKeyDerivation }, (repo) => run.run(repo));
      } finally {
        await run.close();
      }
      report(ctx, r);
      if (r.ok && readsData(opts)) {
        const { loadPlan } = await import('../plan/config.js');
        const { destinationsAt, recordVerified } = await import('../app/verify.js');
        const plan = await loadPlan(planFile(cmd)).catch(() => undefined);
        if (plan) recordVerified(process.env, destinationsAt(plan, location), Date.now());
      }
      if (ctx.json) ctx.emitJson({ message_type: 'check', ...r });
      if (!r.ok) process.exitCode = ExitCode.damaged;
    });
}

async function checkPlan(cmd: Command, ctx: Ctx, opts: CheckFlags): Promise<void> {
  const { loadPlan } = await import('../plan/config.js');
  const { verifyPlan } = await import('../app/verify.js');
  const plan = await loadPlan(planFile(cmd), { required: true });
  const results = await verifyPlan(plan, planEnv(ctx.quiet), opts, Date.now);
  if (ctx.json) ctx.emitJson({ message_type: 'plan_check', destinations: results });
  for (const r of results) {
    if (r.status !== 'checked') {
      ctx.note(`${r.status === 'skipped' ? 'reminder' : 'error'}: ${r.destination}: ${r.message}`);
      continue;
    }
    ctx.say(`== ${r.destination}`);
    report(ctx, r.result);
  }
  if (results.some((r) => r.status === 'checked' && !r.result.ok)) process.exitCode = ExitCode.damaged;
  else if (results.some((r) => r.status === 'failed')) process.exitCode = ExitCode.destinationFailed;
}

function report(ctx: Ctx, r: CheckResult): void {
  ctx.say(`checked ${count(r.snapshots)} snapshots, ${count(r.packs)} packs${r.packsRead ? `; read ${count(r.packsRead)} packs (${bytes(r.bytesRead)})` : ''}`);
  if (r.orphanPacks) ctx.say(`${r.orphanPacks} pack(s) are not in any index (left by an interrupted backup; harmless)`);
  for (const p of r.problems) ctx.say(`error: ${p.message}`);
  if (r.affected.length) {
    ctx.say(`\nFiles affected by the damage (${r.affected.length}):`);
    for (const a of r.affected.slice(0, 200)) ctx.say(`  snapshot ${a.snapshot.slice(0, 8)}: ${a.path}`);
    if (r.affected.length > 200) ctx.say(`  … and ${r.affected.length - 200} more (use --json for all)`);
    ctx.say('Restore these from another copy, or back them up again while the originals exist.');
  }
  ctx.say(r.ok ? 'no errors were found' : `${r.problems.length} problem(s) found`);
}
