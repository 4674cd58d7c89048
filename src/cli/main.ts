/** The `keepsake` command line: a thin adapter over app/. */
import { Command, CommanderError } from 'commander';
import { redactLocation } from '../backend/redact.js';
import { version } from '../app/version.js';
import { registerBackup } from './cmd-backup.js';
import { registerLs, registerSnapshots } from './cmd-browse.js';
import { registerCheck } from './cmd-check.js';
import { registerInit } from './cmd-init.js';
import { registerKey } from './cmd-key.js';
import { registerRestore } from './cmd-restore.js';
import { registerUnlock } from './cmd-unlock.js';
import { registerPlan } from './cmd-plan.js';
import { registerSetup } from './cmd-setup.js';
import { registerStatus } from './cmd-status.js';
import { registerForget } from './cmd-forget.js';
import { registerCopy } from './cmd-copy.js';
import { describeError, ExitCode, exitCodeFor, exitCodeHelp } from './exit.js';

export function buildProgram(): Command {
  const program = new Command('keepsake')
    .description('True, verified backups of photo and video libraries, in the open restic repository format.')
    .version(version)
    .option('-r, --repo <location>', 'repository: a folder, or sftp:…, s3:…, rest:…, rclone:… (env KEEPSAKE_REPOSITORY)')
    .option('-p, --password-file <file>', 'read the repository password from a file (env KEEPSAKE_PASSWORD_FILE; or KEEPSAKE_PASSWORD)')
    .option('-c, --config <file>', 'the plan file (env KEEPSAKE_CONFIG; default $XDG_CONFIG_HOME/keepsake/keepsake.toml)')
    .option('--json', 'machine-readable output on stdout')
    .option('-q, --quiet', 'no progress and no summary, only errors')
    .addHelpText('after', `\n${exitCodeHelp}`)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerInit(program);
  registerBackup(program);
  registerSnapshots(program);
  registerLs(program);
  registerRestore(program);
  registerCheck(program);
  registerKey(program);
  registerUnlock(program);
  registerPlan(program);
  registerSetup(program);
  registerStatus(program);
  registerForget(program);
  registerCopy(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // A password in a repository URL (rest:https://user:pass@host/) must not show in `ps`.
  process.title = ['keepsake', ...argv.slice(2).map(redactLocation)].join(' ');
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? ExitCode.ok);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const d = describeError(err);
    const json = argv.includes('--json');
    if (json) process.stdout.write(`${JSON.stringify({ message_type: 'error', message: d.message, hint: d.hint, code: d.code })}\n`);
    process.stderr.write(`error: ${d.message}\n`);
    if (d.hint) process.stderr.write(`${d.hint}\n`);
    if (process.env.KEEPSAKE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return exitCodeFor(err);
  }
}
