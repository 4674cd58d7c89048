import { type Command } from 'commander';
import { KeepsakeError } from '../core/errors.js';
import { context } from './context.js';
import { ExitCode } from './exit.js';
import { bytes, count, duration } from './format.js';
import { onInterrupt } from './interrupt.js';
import { ProgressLine } from './progress.js';
import { backupPlan } from './plan-backup-output.js';

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('save a new snapshot of folders or files (one-way: nothing at the source is ever changed)')
    .argument('[paths...]', 'folders or files to back up; none: every source of the plan to every destination')
    .option('--destination <name>', 'plan mode: only this destination (repeatable)', collect, [])
    .option('--tag <tag>', 'add a tag to the snapshot (repeatable)', collect, [])
    .option('--host <name>', 'record this host name instead of the machine\'s')
    .option('--parent <snapshot>', 'compare with this snapshot instead of the latest of the same paths')
    .option('--force', 'read every file, even those the parent snapshot shows unchanged')
    .addHelpText('after', `
Files unchanged since the parent snapshot (same size, modification and change time, inode) are not
read again. Files that cannot be read are reported and skipped; the snapshot is still written and the
exit code is 3. Ctrl-C stops cleanly: what was uploaded is kept and the next backup continues.

Without paths, the plan is carried out: every source to every reachable destination (see
\`keepsake source\`, \`keepsake destination\`, \`keepsake status\`).

Examples:
  keepsake backup --repo /media/drive/photos-backup ~/Pictures
  keepsake backup
  keepsake backup --destination nas`)
    .action(async (paths: string[], opts: { tag: string[]; host?: string; parent?: string; force?: boolean; destination: string[] }, cmd: Command) => {
      if (paths.length === 0) return backupPlan(cmd, opts);
      const ctx = context(cmd);
      const ref = await ctx.ref();
      const interrupt = onInterrupt(ctx, 'finishing the upload in progress and saving the index');
      const progress = new ProgressLine('backup', !ctx.json && !ctx.quiet);
      const started = Date.now();
      try {
        // The scan starts while the repository opens: opening it derives the key with scrypt (~0.5 s
        // for a key made by `init`) on a thread of its own, and the scan stats the library meanwhile
        // on the main thread, idle otherwise; worker threads take what is left once the repository
        // is open. Measured on a backup of an unchanged library of 58,833 files: 1.04-1.07 ->
        // 0.68-0.70 s (with no pause in locking a local disk, see lock.ts), peak 90-92 -> 98-100 MiB;
        // worker threads scanning during the derivation instead: 108-121 MiB.
        const { EarlyScan } = await import('../app/scan.js');
        const { withRepository } = await import('../app/repo.js');
        const early = new EarlyScan(paths);
        const r = await withRepository({ ...ref, onKeyDerivation: early.onKeyDerivation }, async (repo) => {
          early.opened();
          const { runBackup } = await import('../app/backup.js');
          return runBackup(repo, {
            scan: early.take(),
            paths,
            tags: opts.tag,
            hostname: opts.host,
            parent: opts.parent,
            force: opts.force,
            signal: interrupt.signal,
            env: process.env,
            onProgress: (p) => progress.update({ ...p, totalsFinal: p.scanDone }),
            onWarning: (w) => {
              progress.done();
              ctx.note(`warning: ${w.path}: ${w.message}`);
            },
          });
        });
        progress.done();
        const secs = (Date.now() - started) / 1000;
        const s = r.summary;
        if (ctx.json) {
          ctx.emitJson({
            message_type: 'summary',
            files_new: s.filesNew,
            files_changed: s.filesChanged,
            files_unmodified: s.filesUnmodified,
            dirs_new: s.dirsNew,
            dirs_changed: s.dirsChanged,
            dirs_unmodified: s.dirsUnmodified,
            data_blobs: s.dataBlobs,
            tree_blobs: s.treeBlobs,
            data_added: s.dataAdded,
            uploaded_bytes: s.uploadedBytes,
            total_files_processed: s.totalFilesProcessed,
            total_bytes_processed: s.totalBytesProcessed,
            bytes_read: s.bytesRead,
            total_duration: secs,
            snapshot_id: r.id,
            parent: r.parent ?? null,
            warnings: r.warnings,
            recovered_interrupted_run: r.recoveredInterruptedRun,
          });
        } else {
          if (r.recoveredInterruptedRun) ctx.say('note: a previous backup on this machine was interrupted; what it had uploaded was kept');
          ctx.say(`Files:       ${count(s.filesNew)} new, ${count(s.filesChanged)} changed, ${count(s.filesUnmodified)} unmodified`);
          ctx.say(`Folders:     ${count(s.dirsNew)} new, ${count(s.dirsChanged)} changed, ${count(s.dirsUnmodified)} unmodified`);
          ctx.say(`Added:       ${bytes(s.dataAdded)} (${bytes(s.uploadedBytes)} stored)`);
          ctx.say(`Processed:   ${count(s.totalFilesProcessed)} files, ${bytes(s.totalBytesProcessed)} in ${duration(secs)}`);
          ctx.say(`snapshot ${r.id.slice(0, 8)} saved`);
          if (r.warnings.some((w) => w.kind === 'skipped')) {
            ctx.note(`${r.warnings.filter((w) => w.kind === 'skipped').length} file(s) could not be read and are NOT in this snapshot (see warnings above)`);
          }
        }
        if (r.warnings.some((w) => w.kind === 'skipped')) process.exitCode = ExitCode.incomplete;
      } catch (err) {
        progress.done();
        if (interrupt.signal.aborted && !(err instanceof KeepsakeError && err.code !== 'interrupted')) {
          throw new KeepsakeError('interrupted', 'backup interrupted; no snapshot was written, the uploaded data is kept for the next run');
        }
        throw err;
      } finally {
        interrupt.dispose();
      }
    });
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
