/** `keepsake setup`: build the plan by answering questions on a terminal. */
import { type Command } from 'commander';
import { createInterface, type Interface } from 'node:readline/promises';
import { KeepsakeError } from '../core/errors.js';
import { mediaKinds, rhythms } from '../plan/basics.js';
import { type Destination, type Plan } from '../plan/config.js';
import { context } from './context.js';
import { planEnv, planFile } from './plan-context.js';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('create or extend the plan interactively (sources and destinations)')
    .addHelpText('after', `
Without a terminal, use the non-interactive commands instead:
  keepsake source add NAME PATH
  keepsake destination add NAME REPO --media KIND [--offsite] [--removable] [--rhythm R] --password-file F [--init]`)
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new KeepsakeError('invalid-argument', 'setup asks questions and needs a terminal', {
          hint: 'use `keepsake source add NAME PATH` and `keepsake destination add NAME REPO --media … --password-file …` instead',
        });
      }
      const file = planFile(cmd);
      const { loadPlan, savePlan } = await import('../plan/config.js');
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        let plan = await loadPlan(file);
        ctx.say(`Plan file: ${file}`);
        plan = await askSources(rl, plan);
        plan = await askDestinations(rl, plan, ctx.quiet);
        await savePlan(file, plan);
        ctx.say(`Saved. ${plan.source.length} source(s), ${plan.destination.length} destination(s). Next: keepsake backup, then keepsake status.`);
      } finally {
        rl.close();
      }
    });
}

async function ask(rl: Interface, q: string, def?: string): Promise<string> {
  const a = (await rl.question(def ? `${q} [${def}]: ` : `${q}: `)).trim();
  return a === '' ? (def ?? '') : a;
}

async function choose<T extends string>(rl: Interface, q: string, options: readonly T[], def: T): Promise<T> {
  for (;;) {
    const a = await ask(rl, `${q} (${options.join('/')})`, def);
    if ((options as readonly string[]).includes(a)) return a as T;
    process.stdout.write(`please answer one of: ${options.join(', ')}\n`);
  }
}

async function yes(rl: Interface, q: string, def: boolean): Promise<boolean> {
  return /^y/i.test(await ask(rl, `${q} (y/n)`, def ? 'y' : 'n'));
}

async function askSources(rl: Interface, plan: Plan): Promise<Plan> {
  const { addSource } = await import('../plan/config.js');
  while (await yes(rl, plan.source.length === 0 ? 'Add a folder of originals?' : 'Add another folder of originals?', plan.source.length === 0)) {
    const folder = await ask(rl, '  folder');
    const name = await ask(rl, '  short name', folder.split('/').filter(Boolean).at(-1));
    try {
      plan = addSource(plan, { name, path: folder, media: 'internal-disk' });
    } catch (err) {
      process.stdout.write(`  ${(err as Error).message}\n`);
    }
  }
  return plan;
}

async function askDestinations(rl: Interface, plan: Plan, quiet: boolean): Promise<Plan> {
  const { addDestination, checkPrivate } = await import('../plan/config.js');
  const { initDestination } = await import('../app/plan.js');
  while (await yes(rl, plan.destination.length === 0 ? 'Add a backup destination?' : 'Add another destination?', plan.destination.length < 3)) {
    const name = await ask(rl, '  short name');
    const repository = await ask(rl, '  repository (folder, sftp:…, s3:…, rest:…, rclone:…)');
    const media = await choose(rl, '  media', mediaKinds, 'external-drive');
    const offsite = await yes(rl, '  kept in another place (offsite)?', media === 'cloud');
    const removable = await yes(rl, '  usually unplugged (removable)?', media === 'external-drive');
    const rhythm = await choose(rl, '  rhythm', rhythms, removable ? 'monthly' : 'daily');
    const pw = await ask(rl, '  password: a file (mode 0600) or $VARIABLE');
    const d: Destination = {
      name, repository, media, offsite, removable, rhythm,
      ...(pw.startsWith('$') ? { password_env: pw.slice(1) } : { password_file: pw }),
    };
    try {
      const next = addDestination(plan, d);
      const added = next.destination.at(-1)!;
      if (added.password_file) await checkPrivate(added.password_file, name);
      if (await yes(rl, '  create the repository now?', true)) await initDestination(plan, added, planEnv(quiet));
      plan = next;
    } catch (err) {
      process.stdout.write(`  ${(err as Error).message}\n`);
    }
  }
  return plan;
}
