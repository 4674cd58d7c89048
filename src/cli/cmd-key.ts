import { type Command } from 'commander';
import { readPassword } from './password.js';
import { context } from './context.js';

export function registerKey(program: Command): void {
  const key = program.command('key').description('manage the passwords (key files) that open the repository');
  key
    .command('list')
    .description('list key files')
    .action(async (_o, cmd: Command) => {
      const ctx = context(cmd);
      const { withRepository } = await import('../app/repo.js');
      const { parseKeyFile } = await import('../core/keys.js');
      const keys = await withRepository(await ctx.ref(), async (repo) => {
        const out = [];
        for (const id of await repo.list('key')) {
          const kf = parseKeyFile(await repo.backend.load({ type: 'key', name: id }, 0, 0));
          out.push({ id, current: id === repo.keyId, username: kf.username ?? '', hostname: kf.hostname ?? '', created: kf.created ?? '' });
        }
        return out;
      });
      if (ctx.json) ctx.emitJson(keys);
      else for (const k of keys) ctx.say(`${k.current ? '*' : ' '}${k.id.slice(0, 8)}  ${k.username}@${k.hostname}  ${k.created.slice(0, 19)}`);
    });
  key
    .command('add')
    .description('add another password that opens the repository')
    .option('--new-password-file <file>', 'read the new password from this file')
    .action(async (opts: { newPasswordFile?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const ref = await ctx.ref();
      const env = { ...process.env, KEEPSAKE_PASSWORD: process.env.KEEPSAKE_NEW_PASSWORD };
      const pw = await readPassword({ passwordFile: opts.newPasswordFile, env }, { confirm: true, prompt: 'new password: ' });
      const { withRepository } = await import('../app/repo.js');
      const id = await withRepository(ref, (repo) => repo.addKey(pw));
      if (ctx.json) ctx.emitJson({ message_type: 'key_added', id });
      else ctx.say(`saved new key ${id.slice(0, 8)}`);
    });
}
