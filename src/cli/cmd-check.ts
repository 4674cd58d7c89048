import { type Command, InvalidArgumentError } from 'commander';
import { runCheck } from '../app/browse.js';
import { withRepository } from '../app/repo.js';
import { context } from './context.js';
import { ExitCode } from './exit.js';
import { bytes, count } from './format.js';

function percent(v: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(v);
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError('give a percentage such as 10%');
  return n / 100;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('verify the repository: structure always, stored data with --read-data')
    .option('--read-data', 'read and verify every stored byte')
    .option('--read-data-subset <n%>', 'read and verify a random share of the packs, e.g. 5%', percent)
    .addHelpText('after', `
Damage is reported with the snapshots and files it affects. Exit code 4 means damage was found.`)
    .action(async (opts: { readData?: boolean; readDataSubset?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const r = await withRepository(await ctx.ref(), (repo) => runCheck(repo, {
        readData: opts.readData,
        readDataSubset: opts.readDataSubset,
      }));
      if (ctx.json) ctx.emitJson({ message_type: 'check', ...r });
      else {
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
      if (!r.ok) process.exitCode = ExitCode.damaged;
    });
}
