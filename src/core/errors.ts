/**
 * Typed errors of the engine. Only the edges (CLI, HTTP) turn a `code` into an exit status or a
 * message for people; the engine never prints.
 */
export type ErrorCode =
  | 'wrong-password'
  | 'no-repository'
  | 'repository-exists'
  | 'corrupt'
  | 'locked'
  | 'not-found'
  | 'unsafe-path'
  | 'target-exists'
  | 'invalid-argument'
  | 'unsupported'
  | 'interrupted';

export class KeepsakeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeepsakeError';
    this.code = code;
    this.hint = options?.hint;
  }
}

/** Thrown when stored bytes fail their MAC or hash: damage, tampering, or a wrong key. */
export class CorruptError extends KeepsakeError {
  constructor(message: string) {
    super('corrupt', message);
  }
}
