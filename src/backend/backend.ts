/**
 * The storage contract every destination driver implements.
 *
 * A backend stores named, immutable files and knows nothing about the restic format: it does not
 * decrypt, parse or interpret what it stores. Names are chosen by the caller (hex IDs); the layout on
 * the destination follows restic's: `config`, `keys/<id>`, `locks/<id>`, `snapshots/<id>`,
 * `index/<id>`, and `data/<first two hex chars>/<id>`.
 */

export type FileType = 'config' | 'key' | 'lock' | 'snapshot' | 'index' | 'pack';

export const fileTypes: readonly FileType[] = ['config', 'key', 'lock', 'snapshot', 'index', 'pack'];

export interface Handle {
  readonly type: FileType;
  /** Hex ID of the file; ignored (use '') for `config`. */
  readonly name: string;
}

export interface FileInfo {
  readonly name: string;
  readonly size: number;
}

/** Why a backend call failed. Drivers classify their own errors so wrappers can act on them. */
export type BackendErrorCode =
  /** The file does not exist. Not retried. */
  | 'not-found'
  /** The file already exists (save of an existing name). Not retried. */
  | 'exists'
  /** Worth retrying: timeouts, connection resets, 5xx, throttling. */
  | 'transient'
  /** Retrying cannot help: bad credentials, permission denied, missing bucket, disk full. */
  | 'permanent';

export class BackendError extends Error {
  readonly code: BackendErrorCode;
  /** A sentence telling the user what to do about it, when the driver knows. */
  readonly hint: string | undefined;
  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackendError';
    this.code = code;
    this.hint = options?.hint;
  }
}

const transientFsCodes = new Set(['EAGAIN', 'EBUSY', 'EINTR', 'EMFILE', 'ENFILE', 'ETIMEDOUT']);

/**
 * Classify a file-system error met while storing in or reading from `folder`. A missing file when
 * reading is `not-found`; a missing folder when writing or listing means the repository itself is
 * gone (an unplugged drive), which is permanent; a full disk or a refused write gets a hint.
 */
export function fileSystemError(err: unknown, location: string, folder: string, what: string, op: 'load' | 'save'): BackendError {
  if (err instanceof BackendError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  let kind: BackendErrorCode = transientFsCodes.has(code) ? 'transient' : 'permanent';
  let hint: string | undefined;
  if (code === 'ENOENT') {
    if (op === 'load') kind = 'not-found';
    else hint = `the repository folder ${folder} is missing: is the drive connected?`;
  } else if (code === 'ENOSPC' || code === 'EDQUOT') {
    hint = `the disk holding ${folder} is full: free some space or choose another destination`;
  } else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    hint = `keepsake may not write to ${folder}: check the folder's permissions and that the disk is not read-only`;
  }
  return new BackendError(kind, `${location}: ${what}: ${e.message ?? String(err)}`, { cause: err, hint });
}

export function isNotFound(err: unknown): boolean {
  return err instanceof BackendError && err.code === 'not-found';
}

export interface Backend {
  /** A display name for messages, e.g. `local:/mnt/drive/photos` or `s3:host/bucket`. Never holds secrets. */
  readonly location: string;

  /** Largest number of calls worth running at once (the connection limit wrapper uses it). */
  readonly connections: number;

  /**
   * Create the folder structure for a new repository. Must fail with `exists` if a `config` file is
   * already present. Idempotent otherwise.
   */
  create(): Promise<void>;

  /**
   * Store `data` under `h` atomically: after a crash, either the whole file is there or nothing is.
   * Saving a name that already exists with the same bytes may succeed or fail with `exists`; callers
   * never save two different contents under one name (names are content hashes). The data must be
   * durable when the promise resolves (fsync on local disks).
   */
  save(h: Handle, data: Uint8Array): Promise<void>;

  /**
   * Optional, for drivers on a file system: store the complete file at `file` under `h` with save()'s
   * guarantees by moving it into place, so a pack is written once and never held in memory. `file`
   * must be in stagingDir(). It is gone once the promise resolves; after a failure it may still be
   * there (the caller removes it). Repeating a call whose file was already moved succeeds.
   */
  saveFile?(h: Handle, file: string): Promise<void>;

  /** With saveFile: a folder on the destination's own file system for files to hand to saveFile. */
  stagingDir?(): Promise<string>;

  /**
   * Optional, for drivers on a file system: the path of the file `h` names, so that a worker thread
   * can read it itself (restore and check read packs in the threads that verify them: the pack bytes
   * then never pass through the main thread's memory). A failed read there falls back to load().
   */
  localFile?(h: Handle): string;

  /**
   * Optional: true when any process that can reach the destination lists a file as soon as save()
   * of it has returned (a file system local to this machine). Taking a lock then needs no pause
   * before checking again for a competing one (see lock.ts); without it, or when it says false, the
   * pause is restic's 200 ms, for storage whose listings may lag behind its writes.
   */
  immediateListing?(): Promise<boolean>;

  /**
   * Read `length` bytes at `offset` of a file (`length` 0 means to the end). Must return exactly the
   * requested range or throw; a short read from the transport is an error (`transient`).
   * Throws `not-found` if the file does not exist.
   */
  load(h: Handle, length: number, offset: number): Promise<Uint8Array>;

  /** Size and name of one file. Throws `not-found` if it does not exist. */
  stat(h: Handle): Promise<FileInfo>;

  /** Remove a file. Removing a file that does not exist succeeds (idempotent). */
  remove(h: Handle): Promise<void>;

  /**
   * Every file of a type, in no particular order. For packs this walks all `data/xx/` folders.
   * `config` is not listable; use `stat`.
   */
  list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo>;

  /** Release connections and child processes. The backend is unusable afterwards. */
  close(): Promise<void>;
}

/** The path of a file inside a repository, relative to its root, with `/` separators. */
export function filePath(h: Handle): string {
  switch (h.type) {
    case 'config':
      return 'config';
    case 'pack':
      return `data/${h.name.slice(0, 2)}/${h.name}`;
    default:
      return `${dirOf(h.type)}/${h.name}`;
  }
}

export function dirOf(type: Exclude<FileType, 'config'>): string {
  switch (type) {
    case 'key':
      return 'keys';
    case 'lock':
      return 'locks';
    case 'snapshot':
      return 'snapshots';
    case 'index':
      return 'index';
    case 'pack':
      return 'data';
  }
}

const hexName = /^[0-9a-f]{64}$/;

/**
 * True if a name found on a destination looks like a file restic would have written. Listing skips
 * anything else (temp files, editor droppings, names built to escape the folder like `../x`).
 */
export function isValidName(name: string): boolean {
  return hexName.test(name);
}

/** Whether a repository exists at a backend (its `config` file is there). */
export async function hasConfig(b: Backend): Promise<boolean> {
  try {
    await b.stat({ type: 'config', name: '' });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
