import { type Command } from 'commander';
import { context } from './context.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a new, encrypted repository (restic format version 2)')
    .addHelpText('after', `
The repository can be a local folder (an external drive), or sftp:, s3:, rest:, rclone: locations.
Keep the password safe: without it nobody, including you, can read the backup.

Example:
  KEEPSAKE_PASSWORD=… keepsake init --repo /media/drive/photos-backup`)
    .action(async (_opts, cmd: Command) => {
      const ctx = context(cmd);
      const ref = await ctx.ref({ confirm: true });
      const { initRepository } = await import('../app/repo.js');
      const r = await initRepository(ref);
      if (ctx.json) ctx.emitJson({ message_type: 'initialized', id: r.id, repository: r.location });
      else ctx.say(`created repository ${r.id.slice(0, 10)} at ${r.location}\nKeep the password safe: losing it means losing access to the backup.`);
    });
}
