/** `keepsake backup` without paths: the plan's sources to its destinations, and the summary. */
import { type Command } from 'commander';
import { KeepsakeError } from '../core/errors.js';
import { context } from './context.js';
import { ExitCode } from './exit.js';
import { bytes, count } from './format.js';
import { planEnv, planFile } from './plan-context.js';
import { onInterrupt } from './interrupt.js';
import { ProgressLine } from './progress.js';

export async function backupPlan(cmd: Command, opts: { host?: string; force?: boolean; destination: string[]; tag: string[]; parent?: string }): Promise<void> {
  const ctx = context(cmd);
  if (cmd.optsWithGlobals<{ repo?: string }>().repo) {
    throw new KeepsakeError('invalid-argument', 'name the folders to back up into --repo', { hint: 'or leave out --repo to back up the plan\'s sources to its destinations' });
  }
  if (opts.tag.length > 0 || opts.parent) {
    throw new KeepsakeError('invalid-argument', '--tag and --parent apply to single-repository backups; plan snapshots are tagged with the source name');
  }
  const { loadPlan } = await import('../plan/config.js');
  const { runPlanBackup } = await import('../app/plan-backup.js');
  const { refreshLedger } = await import('../app/status.js');
  const plan = await loadPlan(planFile(cmd), { required: true });
  const abort = onInterrupt(ctx, 'finishing the upload in progress');
  const progress = new ProgressLine('backup', !ctx.json && !ctx.quiet);
  try {
    const results = await runPlanBackup({
      plan,
      penv: planEnv(ctx.quiet),
      destinations: opts.destination,
      hostname: opts.host,
      force: opts.force,
      signal: abort.signal,
      onStart: (d, s) => {
        progress.done();
        ctx.say(`${s} → ${d}`);
      },
      onProgress: (p) => progress.update({ ...p, totalsFinal: p.scanDone }),
      onWarning: (d, w) => {
        progress.done();
        ctx.note(`warning: ${d}: ${w.path}: ${w.message}`);
      },
      afterDestination: (d, repo) => refreshLedger(process.env, d, repo, Date.now()),
    });
    progress.done();
    if (ctx.json) ctx.emitJson({ message_type: 'plan_summary', destinations: results });
    for (const r of results) {
      if (r.status === 'skipped') {
        ctx.note(`reminder: ${r.destination} skipped: ${r.message}`);
        continue;
      }
      const added = r.sources.reduce((n, s) => n + (s.summary?.dataAdded ?? 0), 0);
      const files = r.sources.reduce((n, s) => n + (s.summary ? s.summary.filesNew + s.summary.filesChanged : 0), 0);
      const line = `${r.destination.padEnd(16)} ${r.status.padEnd(10)} ${count(files)} new/changed files, ${bytes(added)} added`;
      ctx.say(r.message ? `${line}\n  ${r.message}` : line);
      if (r.status === 'failed' && ctx.quiet) process.stderr.write(`error: ${r.destination}: ${r.message}\n`);
    }
    const failed = results.filter((r) => r.status === 'failed');
    if (failed.length > 0) {
      ctx.note(`${failed.length} destination(s) failed: ${failed.map((r) => r.destination).join(', ')}`);
      process.exitCode = ExitCode.destinationFailed;
    } else if (results.some((r) => r.status === 'incomplete')) process.exitCode = ExitCode.incomplete;
    if (!ctx.json) ctx.say('run `keepsake status` to see how safe every photo is');
  } finally {
    progress.done();
    abort.dispose();
  }
}
