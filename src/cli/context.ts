/** What every repository command shares: global options, the repository reference, output helpers. */
import { type Command } from 'commander';
import { type RepoRef } from '../app/repo.js';
import { KeepsakeError } from '../core/errors.js';
import { readPassword } from './password.js';

export interface GlobalOptions {
  repo?: string;
  passwordFile?: string;
  json?: boolean;
  quiet?: boolean;
}

export interface Ctx {
  json: boolean;
  quiet: boolean;
  ref(opts?: { confirm?: boolean }): Promise<RepoRef>;
  /** Human output to stdout (suppressed with --json). */
  say(line: string): void;
  /** Warnings and notes to stderr (kept with --json, dropped with --quiet). */
  note(line: string): void;
  emitJson(value: unknown): void;
}

export function context(cmd: Command): Ctx {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const json = Boolean(g.json);
  const quiet = Boolean(g.quiet);
  return {
    json,
    quiet,
    async ref(opts) {
      const location = g.repo ?? process.env.KEEPSAKE_REPOSITORY;
      if (!location) {
        throw new KeepsakeError('invalid-argument', 'no repository given', { hint: 'pass --repo PATH or set KEEPSAKE_REPOSITORY' });
      }
      const password = await readPassword({ passwordFile: g.passwordFile ?? process.env.KEEPSAKE_PASSWORD_FILE, env: process.env }, opts);
      return { location, password, env: process.env, onRetry: (m) => !quiet && process.stderr.write(`retrying: ${m}\n`) };
    },
    say(line) {
      if (!json && !quiet) process.stdout.write(`${line}\n`);
    },
    note(line) {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
    emitJson(value) {
      process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    },
  };
}
