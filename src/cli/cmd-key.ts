import { type Command } from 'commander';
import { readPassword } from './password.js';
import { type Repository } from '../core/repository.js';
import { context, type Ctx } from './context.js';

/**
 * `key add` and `key passwd`: read the new password (KEEPSAKE_NEW_PASSWORD, a file, or asked twice)
 * before opening the repository, then report what `fn` did as JSON or as a line.
 */
async function withNewPassword(
  opts: { newPasswordFile?: string },
  cmd: Command,
  fn: (repo: Repository, password: string) => Promise<[Record<string, unknown>, string]>,
): Promise<void> {
  const ctx = context(cmd);
  const ref = await ctx.ref();
  const env = { ...process.env, KEEPSAKE_PASSWORD: process.env.KEEPSAKE_NEW_PASSWORD };
  const pw = await readPassword({ passwordFile: opts.newPasswordFile, env }, { confirm: true, prompt: 'new password: ' });
  const { withRepository } = await import('../app/repo.js');
  const [json, text] = await withRepository(ref, (repo) => fn(repo, pw));
  done(ctx, json, text);
}

const newPasswordOption = ['--new-password-file <file>', 'read the new password from this file (or env KEEPSAKE_NEW_PASSWORD)'] as const;

const log2 = (n: number) => (Number.isInteger(Math.log2(n)) ? `2^${Math.log2(n)}` : String(n));

export function registerKey(program: Command): void {
  const key = program.command('key').description('manage the passwords (key files) that open the repository');
  key
    .command('list')
    .description('list key files, with the scrypt settings that make each password slow to guess')
    .action(async (_o, cmd: Command) => {
      const ctx = context(cmd);
      const { withRepository } = await import('../app/repo.js');
      const { listKeys } = await import('../app/keys.js');
      const keys = await withRepository(await ctx.ref(), listKeys);
      if (ctx.json) return ctx.emitJson(keys);
      for (const k of keys) {
        const kdf = `N=${log2(k.kdf.N)} r=${k.kdf.r} p=${k.kdf.p}`;
        ctx.say(`${k.current ? '*' : ' '}${k.id.slice(0, 8)}  ${k.username}@${k.hostname}  ${k.created.slice(0, 19)}  ${kdf}${k.weak ? '  WEAK' : ''}`);
      }
      if (keys.some((k) => k.weak)) {
        ctx.say('WEAK: cheaper to guess against than the keys keepsake makes now. Open the repository with that');
        ctx.say('password and run `keepsake key passwd` (the same password may be given again) to replace it.');
      }
    });
  key
    .command('add')
    .description('add another password that opens the repository')
    .option(...newPasswordOption)
    .action((opts: { newPasswordFile?: string }, cmd: Command) =>
      withNewPassword(opts, cmd, async (repo, pw) => {
        const id = await repo.addKey(pw);
        return [{ message_type: 'key_added', id }, `saved new key ${id.slice(0, 8)}`];
      }));
  key
    .command('remove <id>')
    .description('remove another password (its key file); the password in use cannot remove itself')
    .action(async (id: string, _o, cmd: Command) => {
      const ctx = context(cmd);
      const { withRepository } = await import('../app/repo.js');
      const { removeKey } = await import('../app/keys.js');
      const removed = await withRepository(await ctx.ref(), (repo) => removeKey(repo, id));
      done(ctx, { message_type: 'key_removed', id: removed }, `removed key ${removed.slice(0, 8)}`);
    });
  key
    .command('passwd')
    .description('replace the password in use with a new one (or the same one: the new key is made as strong as this machine allows)')
    .option(...newPasswordOption)
    .action((opts: { newPasswordFile?: string }, cmd: Command) =>
      withNewPassword(opts, cmd, async (repo, pw) => {
        const { changePassword } = await import('../app/keys.js');
        const r = await changePassword(repo, pw);
        return [{ message_type: 'key_changed', ...r }, `saved new key ${r.added.slice(0, 8)}, removed old key ${r.removed.slice(0, 8)}`];
      }));
}

function done(ctx: Ctx, json: Record<string, unknown>, text: string): void {
  if (ctx.json) ctx.emitJson(json);
  else ctx.say(text);
}
