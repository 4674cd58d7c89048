import { type Command } from 'commander';
import { context } from './context.js';

export function registerUnlock(program: Command): void {
  program
    .command('unlock')
    .description('remove stale locks left by runs that crashed or were killed')
    .option('--remove-all', 'remove every lock, also those of runs that may still be going on')
    .addHelpText('after', `
A backup that was cut off leaves its lock behind; the next keepsake backup cleans it up by itself.
restic refuses some commands (check, prune) while such a lock exists: run this first. Packs the cut-off
run had uploaded are indexed before its lock goes, so no uploaded data is lost or sent again.`)
    .action(async (opts: { removeAll?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const { withRepository } = await import('../app/repo.js');
      const { indexOrphanPacks } = await import('../core/recover.js');
      const { removeStaleLocks } = await import('../core/lock.js');
      const r = await withRepository(await ctx.ref(), async (repo) => {
        await repo.loadIndex();
        const indexed = await indexOrphanPacks(repo);
        return { indexed, removed: await removeStaleLocks(repo, opts.removeAll) };
      });
      if (ctx.json) ctx.emitJson({ message_type: 'unlock', locks_removed: r.removed, packs_indexed: r.indexed });
      else {
        ctx.say(`removed ${r.removed} lock${r.removed === 1 ? '' : 's'}`);
        if (r.indexed) ctx.say(`indexed ${r.indexed} pack(s) an interrupted backup had uploaded`);
      }
    });
}
