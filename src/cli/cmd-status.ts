/** `keepsake status`: is every photo safe, three times, on two kinds of media, one far away? */
import { type Command } from 'commander';
import { type StatusOutcome } from '../app/status.js';
import { redactLocation } from '../backend/redact.js';
import { type DestinationReport } from '../plan/assess.js';
import { type Plan } from '../plan/config.js';
import { context, type Ctx } from './context.js';
import { ExitCode } from './exit.js';
import { count } from './format.js';
import { planEnv, planFile } from './plan-context.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('how many photos meet 3-2-1, which do not and why, and the state of every destination')
    .option('--rebuild', 'throw the local catalog away and rebuild it from the repositories')
    .option('--offline', 'do not contact the destinations; answer from the local catalog')
    .option('--show <n>', 'photos listed per reason (default 10; all with --json)', (v) => Number.parseInt(v, 10), 10)
    .addHelpText('after', `
Exit codes: 0 every photo meets 3-2-1 and every destination is on time; 5 some photos are at risk;
6 all photos meet 3-2-1 but a destination is overdue or could not be read. Suited to monitors.`)
    .action(async (opts: { rebuild?: boolean; offline?: boolean; show: number }, cmd: Command) => {
      const ctx = context(cmd);
      const { loadPlan } = await import('../plan/config.js');
      const { planStatus } = await import('../app/status.js');
      const plan = await loadPlan(planFile(cmd), { required: true });
      const nowMs = process.env.KEEPSAKE_NOW ? Date.parse(process.env.KEEPSAKE_NOW) : Date.now();
      const st = await planStatus({
        plan, penv: planEnv(ctx.quiet), nowMs, rebuild: opts.rebuild, offline: opts.offline,
        onProgress: (w) => !ctx.json && !ctx.quiet && process.stderr.isTTY && process.stderr.write(`${w}…\r\x1b[K`),
      });
      const code = st.atRisk > 0 ? ExitCode.atRisk
        : st.destinations.some((d) => d.overdue || (d.problem && d.problem !== 'not connected')) ? ExitCode.attention : ExitCode.ok;
      if (ctx.json) ctx.emitJson(toJson(st, plan, nowMs, code));
      else printStatus(ctx, st, plan, nowMs, opts.show);
      process.exitCode = code;
    });
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function toJson(st: StatusOutcome, plan: Plan, nowMs: number, code: number): unknown {
  return {
    message_type: 'status',
    time: iso(nowMs),
    verdict: { photos: st.photos, safe: st.safe, at_risk: st.atRisk, all_safe: st.atRisk === 0 },
    exit_code: code,
    rebuilt_catalog: st.rebuilt,
    destinations: st.destinations.map((d) => ({
      name: d.name, media: d.media, offsite: d.offsite, removable: d.removable, rhythm: d.rhythm, reachable: d.reachable,
      problem: d.problem ?? null, snapshots: d.snapshots, last_backup: iso(d.lastBackupMs), age_days: d.ageDays ?? null, overdue: d.overdue,
      last_seen: iso(d.lastSeenMs), last_verified: iso(d.lastVerifiedMs), photos_held: d.photosHeld, weak_key: d.weakKey,
    })),
    at_risk: st.risks.map((g) => ({ reason: g.reason, key: g.key, text: g.text, count: g.photos.length, photos: g.photos.map((p) => ({ content: p.content, paths: p.paths })) })),
    deleted_from_sources: st.deleted.map((x) => ({
      content: x.content, path: x.path, copies: x.copies,
      restore: restoreCommand(plan, x.copies[0]!.destination, x.copies[0]!.snapshot, x.path),
    })),
    source_problems: st.sourceProblems,
    foreign_chunker: st.foreignChunker,
  };
}

function restoreCommand(plan: Plan, dest: string, snapshot: string, path: string): string {
  const d = plan.destination.find((x) => x.name === dest)!;
  const pw = d.password_file ? `--password-file ${shellQuote(d.password_file)}` : `(password in $${d.password_env})`;
  return `keepsake restore --repo ${shellQuote(redactLocation(d.repository))} ${pw} ${snapshot.slice(0, 8)} --target ~/restored --include ${shellQuote(path)}`;
}

/** `key passwd` with the same password makes a new, calibrated key and removes the weak one. */
function keyPasswdCommand(plan: Plan, dest: string): string {
  const d = plan.destination.find((x) => x.name === dest)!;
  const repo = shellQuote(redactLocation(d.repository));
  if (!d.password_file) return `KEEPSAKE_PASSWORD="$${d.password_env}" KEEPSAKE_NEW_PASSWORD="$${d.password_env}" keepsake key passwd --repo ${repo}`;
  const f = shellQuote(d.password_file);
  return `keepsake key passwd --repo ${repo} --password-file ${f} --new-password-file ${f}`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function ago(ms: number | undefined, nowMs: number): string {
  if (ms === undefined) return 'never';
  const days = Math.floor((nowMs - ms) / 86_400_000);
  if (days >= 1) return `${days} day${days === 1 ? '' : 's'} ago`;
  const hours = Math.floor((nowMs - ms) / 3_600_000);
  return hours >= 1 ? `${hours} hour${hours === 1 ? '' : 's'} ago` : 'less than an hour ago';
}

function destLine(d: DestinationReport, nowMs: number): string {
  const kind = `${d.media}${d.offsite ? ', offsite' : ''}${d.removable ? ', removable' : ''}`;
  const backup = `last backup ${ago(d.lastBackupMs, nowMs)} (plan: ${d.rhythm})${d.overdue ? ' — OVERDUE' : ''}`;
  const reach = d.reachable ? '' : d.problem === 'not connected' ? `; not connected, last seen ${ago(d.lastSeenMs, nowMs)}` : `; NOT READ: ${d.problem ?? 'offline'}`;
  return `  ${d.name.padEnd(14)} ${kind.padEnd(34)} ${backup}; verified ${ago(d.lastVerifiedMs, nowMs)}; holds ${count(d.photosHeld)} photos${reach}`;
}

function printStatus(ctx: Ctx, st: StatusOutcome, plan: Plan, nowMs: number, show: number): void {
  ctx.say(st.atRisk === 0
    ? `All ${count(st.photos)} photos meet 3-2-1.`
    : `${count(st.safe)} of ${count(st.photos)} photos meet 3-2-1; ${count(st.atRisk)} at risk.`);
  if (st.rebuilt) ctx.say('(the local catalog was rebuilt from the repositories)');
  ctx.say('\nDestinations:');
  for (const d of st.destinations) ctx.say(destLine(d, nowMs));
  for (const d of st.destinations.filter((x) => x.weakKey)) {
    ctx.say(`  ${d.name}: the key its password opens is WEAK (cheap to guess passwords against); a stronger one, same password:`);
    ctx.say(`    ${keyPasswdCommand(plan, d.name)}`);
  }
  if (st.risks.length > 0) ctx.say('\nAt risk:');
  for (const g of st.risks) {
    ctx.say(`  ${g.text}: ${count(g.photos.length)} photo(s)`);
    for (const p of g.photos.slice(0, show)) ctx.say(`    ${p.paths.join(', ')}`);
    if (g.photos.length > show) ctx.say(`    … and ${count(g.photos.length - show)} more (--show N, or --json)`);
  }
  if (st.deleted.length > 0) {
    ctx.say(`\nNo longer in the sources (deleted or edited), kept in backups: ${count(st.deleted.length)}`);
    for (const x of st.deleted.slice(0, show)) {
      ctx.say(`  ${x.path}  (in ${x.copies.map((c) => c.destination).join(', ')})`);
      ctx.say(`    ${restoreCommand(plan, x.copies[0]!.destination, x.copies[0]!.snapshot, x.path)}`);
    }
    if (st.deleted.length > show) ctx.say(`  … and ${count(st.deleted.length - show)} more`);
  }
  for (const p of st.sourceProblems) ctx.note(`warning: source ${p.source}: ${p.message}`);
  if (st.foreignChunker.length > 0) {
    ctx.note(`warning: ${st.foreignChunker.join(', ')} use other chunker parameters; copies of files over 512 KiB there cannot be matched (recreate with \`keepsake destination add … --init\`)`);
  }
}
