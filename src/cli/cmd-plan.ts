/** `keepsake source add|list` and `keepsake destination add|list`: edit the plan without prompts. */
import { type Command, Option } from 'commander';
import { redactLocation } from '../backend/redact.js';
import { mediaKinds, rhythms, type Media, type Rhythm } from '../plan/basics.js';
import { type Destination } from '../plan/config.js';
import { context } from './context.js';
import { planEnv, planFile } from './plan-context.js';

export function registerPlan(program: Command): void {
  const source = program.command('source').description('folders that hold your originals (the plan\'s copy 1)');
  source
    .command('add')
    .description('add a folder of originals to the plan')
    .argument('<name>', 'a short name, used as the snapshot tag')
    .argument('<path>', 'the folder')
    .addOption(new Option('--media <kind>', 'what the folder is stored on').choices(mediaKinds).default('internal-disk'))
    .action(async (name: string, folder: string, opts: { media: Media }, cmd: Command) => {
      const ctx = context(cmd);
      const file = planFile(cmd);
      const { addSource, loadPlan, savePlan } = await import('../plan/config.js');
      const plan = addSource(await loadPlan(file), { name, path: folder, media: opts.media });
      await savePlan(file, plan);
      ctx.say(`source ${name} added to ${file}`);
    });
  source
    .command('list')
    .description('list the sources of the plan')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const { loadPlan } = await import('../plan/config.js');
      const plan = await loadPlan(planFile(cmd));
      if (ctx.json) ctx.emitJson(plan.source);
      for (const s of plan.source) ctx.say(`${s.name.padEnd(16)} ${s.path}  (${s.media})`);
      if (plan.source.length === 0) ctx.say('no sources yet: add one with `keepsake source add NAME PATH`');
    });

  const dest = program.command('destination').description('backup repositories of the plan (3-2-1: three copies, two kinds of media, one offsite)');
  dest
    .command('add')
    .description('add a destination to the plan')
    .argument('<name>', 'a short name')
    .argument('<repository>', 'a folder, or sftp:…, s3:…, rest:…, rclone:…')
    .addOption(new Option('--media <kind>', 'kind of media').choices(mediaKinds).makeOptionMandatory())
    .option('--offsite', 'kept in another place than the originals (another house, the cloud)')
    .option('--removable', 'usually unplugged (an external drive): skipped when absent, with a reminder when overdue')
    .addOption(new Option('--rhythm <rhythm>', 'how often it should get a backup').choices(rhythms).default('daily'))
    .option('--password-file <file>', 'file holding the repository password (mode 0600)')
    .option('--password-env <variable>', 'environment variable holding the repository password')
    .option('--init', 'also create the repository (with the chunker parameters of the other destinations)')
    .addHelpText('after', `
Exactly one of --password-file and --password-env is required. The plan file is rewritten by this
command (comments in it are not kept).

Example:
  keepsake destination add drive /media/ann/Backup/keepsake --media external-drive --removable \\
    --rhythm monthly --password-file ~/.config/keepsake/drive.pass --init`)
    .action(async (name: string, repository: string, opts: {
      media: Media; offsite?: boolean; removable?: boolean; rhythm: Rhythm; passwordFile?: string; passwordEnv?: string; init?: boolean;
    }, cmd: Command) => {
      const ctx = context(cmd);
      const file = planFile(cmd);
      // -p/--password-file is also a global option; commander may hand it to the program.
      const passwordFile = opts.passwordFile ?? cmd.optsWithGlobals<{ passwordFile?: string }>().passwordFile;
      const d: Destination = {
        name,
        repository,
        media: opts.media,
        offsite: Boolean(opts.offsite),
        removable: Boolean(opts.removable),
        rhythm: opts.rhythm,
        password_file: passwordFile,
        password_env: opts.passwordEnv,
      };
      const { addDestination, checkPrivate, loadPlan, savePlan } = await import('../plan/config.js');
      const before = await loadPlan(file);
      const plan = addDestination(before, d);
      const added = plan.destination.at(-1)!;
      if (added.password_file) await checkPrivate(added.password_file, name);
      if (opts.init) {
        const { initDestination } = await import('../app/plan.js');
        const r = await initDestination(before, added, planEnv(ctx.quiet));
        ctx.say(`created repository ${r.id.slice(0, 8)} at ${redactLocation(repository)}${r.sharedPolynomial ? ' (chunker parameters shared with the other destinations)' : ''}`);
      }
      await savePlan(file, plan);
      ctx.say(`destination ${name} added to ${file}`);
    });
  dest
    .command('list')
    .description('list the destinations of the plan')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const { loadPlan } = await import('../plan/config.js');
      const plan = await loadPlan(planFile(cmd));
      if (ctx.json) ctx.emitJson(plan.destination.map((d) => ({ ...d, repository: redactLocation(d.repository) })));
      for (const d of plan.destination) {
        const flags = [d.media, d.offsite ? 'offsite' : 'onsite', d.removable ? 'removable' : '', d.rhythm].filter(Boolean).join(', ');
        ctx.say(`${d.name.padEnd(16)} ${redactLocation(d.repository)}  (${flags})`);
      }
      if (plan.destination.length === 0) ctx.say('no destinations yet: add one with `keepsake destination add NAME REPO --media …`');
    });
}
