/** Where the repository password comes from: KEEPSAKE_PASSWORD, --password-file, or a prompt on a TTY. */
import { readFile } from 'node:fs/promises';
import { KeepsakeError } from '../core/errors.js';

export interface PasswordSource {
  passwordFile?: string;
  env: NodeJS.ProcessEnv;
}

export async function readPassword(src: PasswordSource, opts: { confirm?: boolean; prompt?: string } = {}): Promise<string> {
  if (src.passwordFile) {
    const text = await readFile(src.passwordFile, 'utf8').catch((err: Error) => {
      throw new KeepsakeError('invalid-argument', `cannot read the password file: ${err.message}`);
    });
    const pw = text.replace(/\r?\n$/, '');
    if (pw === '') throw new KeepsakeError('invalid-argument', `the password file ${src.passwordFile} is empty`);
    return pw;
  }
  const fromEnv = src.env.KEEPSAKE_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY) {
    throw new KeepsakeError('invalid-argument', 'no password given', {
      hint: 'set KEEPSAKE_PASSWORD or pass --password-file FILE (no terminal to ask on)',
    });
  }
  const pw = await prompt(opts.prompt ?? 'repository password: ');
  if (pw === '') throw new KeepsakeError('invalid-argument', 'an empty password is not allowed');
  if (opts.confirm && (await prompt('enter the password again: ')) !== pw) {
    throw new KeepsakeError('invalid-argument', 'the passwords do not match');
  }
  return pw;
}

/** Read a line from the terminal without echoing it. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let buf = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(buf);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new KeepsakeError('interrupted', 'cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
