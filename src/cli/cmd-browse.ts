import { type Command } from 'commander';
import { context } from './context.js';
import { bytes } from './format.js';

export function registerSnapshots(program: Command): void {
  program
    .command('snapshots')
    .description('list the snapshots in the repository, oldest first')
    .option('--host <name>', 'only snapshots of this host (repeatable)', collect, [])
    .option('--tag <tag>', 'only snapshots with this tag (repeatable)', collect, [])
    .action(async (opts: { host: string[]; tag: string[] }, cmd: Command) => {
      const ctx = context(cmd);
      const { withRepository } = await import('../app/repo.js');
      const { listSnapshots } = await import('../app/browse.js');
      const snaps = await withRepository(await ctx.ref(), (repo) => listSnapshots(repo, { hosts: opts.host, tags: opts.tag }));
      if (ctx.json) {
        ctx.emitJson(snaps.map((s) => ({ ...s, short_id: s.id.slice(0, 8) })));
        return;
      }
      ctx.say(`${'ID'.padEnd(10)}${'Time'.padEnd(21)}${'Host'.padEnd(16)}${'Tags'.padEnd(16)}Paths`);
      for (const s of snaps) {
        const t = s.time.replace('T', ' ').slice(0, 19);
        ctx.say(`${s.id.slice(0, 8).padEnd(10)}${t.padEnd(21)}${(s.hostname ?? '').padEnd(16)}${(s.tags ?? []).join(',').padEnd(16)}${s.paths.join(', ')}`);
      }
      ctx.say(`${snaps.length} snapshot${snaps.length === 1 ? '' : 's'}`);
    });
}

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list the files of a snapshot')
    .argument('<snapshot>', '`latest`, a snapshot ID or a unique prefix of one')
    .argument('[path]', 'a folder inside the snapshot', '')
    .option('-l, --long', 'show mode, size and modification time')
    .option('--no-recursive', 'list only the folder itself, not what is below it')
    .action(async (snapshot: string, sub: string, opts: { long?: boolean; recursive: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const { withRepository } = await import('../app/repo.js');
      const { listFiles } = await import('../app/browse.js');
      await withRepository(await ctx.ref(), async (repo) => {
        const snap = await repo.findSnapshot(snapshot);
        if (ctx.json) ctx.emitJson({ ...snap, short_id: snap.id.slice(0, 8), struct_type: 'snapshot' });
        for await (const { path, node } of listFiles(repo, snap, sub, opts.recursive)) {
          if (ctx.json) {
            ctx.emitJson({ name: node.name, type: node.type, path, size: node.size, mode: node.mode, mtime: node.mtime, struct_type: 'node' });
          } else if (opts.long) {
            const size = node.type === 'file' ? bytes(node.size ?? 0) : '';
            ctx.say(`${node.type.padEnd(8)} ${size.padStart(10)}  ${node.mtime.slice(0, 19).replace('T', ' ')}  ${path}`);
          } else ctx.say(path);
        }
      });
    });
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
