import { type Command } from 'commander';
import type { RestoreOutcome } from '../app/restore.js';
import { context } from './context.js';
import { ExitCode } from './exit.js';
import { bytes, count, duration } from './format.js';
import { ProgressLine } from './progress.js';

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a snapshot, one folder of it, or matching files, into a target folder')
    .argument('<snapshot>', '`latest`, a snapshot ID or prefix; add `:/path` to restore only that folder\'s content')
    .requiredOption('-t, --target <folder>', 'where to restore (created if missing)')
    .option('-i, --include <pattern>', 'restore only paths matching this pattern (repeatable; `*`, `?`, `**`, `[…]`)', collect, [])
    .option('--overwrite', 'replace existing files that differ from the snapshot')
    .option('--host <name>', 'with `latest`: the latest snapshot of this host')
    .addHelpText('after', `
Contents are verified against their checksums as they are written; modes and modification times are
restored. Existing identical files are left alone; existing different files are kept unless
--overwrite is given (and reported, exit code 3).

--include: a pattern without \`/\` matches the name of a file or folder anywhere (a folder brings
everything in it): \`'*.jpg'\`, \`2019\`. A pattern with \`/\` matches the whole path from the snapshot's
root, where \`*\` stops at \`/\` and \`**\` does not: \`'/home/ann/Pictures/2019/**'\`.

Examples:
  keepsake restore latest --target ~/restored
  keepsake restore latest:/home/ann/Pictures/2019 --target ~/restored-2019
  keepsake restore 1a2b3c4d --target ~/r --include '*.jpg'
  keepsake restore latest --target ~/r --include 2019`)
    .action(async (snapshot: string, opts: { target: string; include: string[]; overwrite?: boolean; host?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const progress = new ProgressLine('restore', !ctx.json && !ctx.quiet);
      const started = Date.now();
      const { withRepository } = await import('../app/repo.js');
      const { RestoreRun } = await import('../app/restore.js');
      const run = new RestoreRun();
      let r: RestoreOutcome;
      try {
        r = await withRepository({ ...(await ctx.ref()), keyDerivation: run.keyDerivation, onKeyDerivation: run.onKeyDerivation }, (repo) => run.run(repo, {
          snapshot,
          target: opts.target,
          include: opts.include,
          overwrite: opts.overwrite,
          host: opts.host,
          onProgress: (p) => progress.update({ ...p, totalsFinal: true }),
          onWarning: (p, m) => {
            progress.done();
            ctx.note(`warning: ${p}: ${m}`);
          },
        }));
      } finally {
        await run.close();
      }
      progress.done();
      const secs = (Date.now() - started) / 1000;
      if (ctx.json) {
        ctx.emitJson({ message_type: 'summary', snapshot_id: r.snapshot, path: r.subpath, files_restored: r.files, dirs: r.dirs, symlinks: r.symlinks, bytes_restored: r.bytes, files_skipped_identical: r.skippedIdentical, errors: r.errors, total_duration: secs });
      } else {
        ctx.say(`restored ${count(r.files)} files (${bytes(r.bytes)}), ${count(r.dirs)} folders, ${count(r.symlinks)} links from ${r.snapshot.slice(0, 8)}${r.subpath === '/' ? '' : `:${r.subpath}`} to ${opts.target} in ${duration(secs)}`);
        if (r.skippedIdentical) ctx.say(`${count(r.skippedIdentical)} files were already there and identical`);
        if (r.errors.length) ctx.note(`${r.errors.length} item(s) were not restored (see warnings above)`);
      }
      if (r.errors.length) process.exitCode = ExitCode.incomplete;
    });
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
