/** The one place where errors become messages for people and exit codes for scripts. */
import { BackendError } from '../backend/backend.js';
import { KeepsakeError } from '../core/errors.js';

export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  /** Backup or restore finished, but some files were skipped (restic uses 3 too). */
  incomplete: 3,
  /** `check` found damage. */
  damaged: 4,
  /** `status`: some photos do not meet 3-2-1. */
  atRisk: 5,
  /** `status`: every photo meets 3-2-1, but a destination is overdue or could not be read. */
  attention: 6,
  /** Plan backup, forget or prune: at least one destination failed (the summary names it). */
  destinationFailed: 7,
  noRepository: 10,
  locked: 11,
  wrongPassword: 12,
  interrupted: 130,
} as const;

export const exitCodeHelp = `Exit codes:
  0    success
  1    error (the message says what happened and what to do)
  2    wrong usage (unknown option, missing argument)
  3    incomplete: the snapshot was written, but some files could not be read (listed above)
  4    check found damage in the repository
  5    status: some photos do not meet 3-2-1 (listed by reason)
  6    status: every photo meets 3-2-1, but a destination is overdue or unreadable
  7    plan backup/forget/prune: at least one destination failed (named in the summary)
  10   no repository at the given location
  11   the repository is locked by another process
  12   wrong password
  130  interrupted (Ctrl-C); what was uploaded is kept and the next backup continues from it`;

export function exitCodeFor(err: unknown): number {
  if (err instanceof KeepsakeError) {
    switch (err.code) {
      case 'no-repository': return ExitCode.noRepository;
      case 'locked': return ExitCode.locked;
      case 'wrong-password': return ExitCode.wrongPassword;
      case 'interrupted': return ExitCode.interrupted;
      case 'invalid-argument': return ExitCode.usage;
      default: return ExitCode.error;
    }
  }
  return ExitCode.error;
}

export function describeError(err: unknown): { message: string; hint?: string; code?: string } {
  if (err instanceof KeepsakeError || err instanceof BackendError) {
    return { message: err.message, hint: err.hint, code: err.code };
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC') return { message: e.message, hint: 'the disk is full: free some space and run again', code: e.code };
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return { message: e.message, hint: 'check the permissions of that path', code: e.code };
  return { message: e instanceof Error ? e.message : String(err), code: e?.code };
}
