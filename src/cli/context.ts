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
      return { location, password, env: process.env, onRetry: retryReporter(quiet) };
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

/**
 * One line per retry would flood the terminal while a destination is down (dozens of calls retry
 * at once): say the first, then at most one line every 10 seconds with how many retries happened.
 */
export function retryReporter(quiet: boolean): (msg: string) => void {
  let last = 0;
  let held = 0;
  return (msg) => {
    if (quiet) return;
    const now = Date.now();
    if (now - last < 10_000) {
      held++;
      return;
    }
    process.stderr.write(`retrying: ${msg}${held ? ` (and ${held} more retries)` : ''}\n`);
    last = now;
    held = 0;
  };
}
