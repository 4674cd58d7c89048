/**
 * Retries `transient` failures of the wrapped backend with exponential backoff and full jitter.
 *
 * Only `transient` errors are retried: `not-found`, `exists` and `permanent` are answers, and
 * repeating the call cannot change them. Every backend call is idempotent (names are content hashes,
 * `remove` of a missing file succeeds), so repeating a save or remove after a lost reply is safe.
 * A listing is restarted from the beginning when it fails before yielding anything; once it has
 * yielded names it cannot be resumed without duplicates, so the error goes to the caller.
 */
import { BackendError, filePath, type Backend, type FileInfo, type FileType, type Handle } from './backend.js';

export interface RetryOptions {
  /** Attempts in total, including the first (default 8: ~1+2+4+…+64 s ≈ 2 min of waiting at most). */
  attempts?: number;
  /** First delay in milliseconds (default 500); it doubles each time up to `maxDelayMs`. */
  baseDelayMs?: number;
  /** Longest single delay in milliseconds (default 30 000). */
  maxDelayMs?: number;
  /** Told about every retry, e.g. to print "s3:host/bucket: save data/ab/…: retrying in 1.3 s (2/8)". */
  onRetry?: (msg: string) => void;
  /** Injected for tests, so they need not wait; defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RetryBackend implements Backend {
  readonly location: string;
  readonly connections: number;
  private readonly attempts: number;
  private readonly base: number;
  private readonly max: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly inner: Backend, private readonly opts: RetryOptions = {}) {
    this.location = inner.location;
    this.connections = inner.connections;
    this.attempts = Math.max(1, opts.attempts ?? 8);
    this.base = opts.baseDelayMs ?? 500;
    this.max = opts.maxDelayMs ?? 30_000;
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    if (inner.saveFile && inner.stagingDir) {
      const saveFile = inner.saveFile.bind(inner);
      const stagingDir = inner.stagingDir.bind(inner);
      this.saveFile = (h, file) => this.retry(`save ${filePath(h)}`, () => saveFile(h, file));
      this.stagingDir = () => this.retry('create staging folder', stagingDir);
    }
    // A failed read of the local file falls back to load(), which retries.
    if (inner.localFile) this.localFile = inner.localFile.bind(inner);
    if (inner.immediateListing) this.immediateListing = inner.immediateListing.bind(inner);
  }

  readonly saveFile?: (h: Handle, file: string) => Promise<void>;
  readonly stagingDir?: () => Promise<string>;
  readonly localFile?: (h: Handle) => string;
  readonly immediateListing?: () => Promise<boolean>;

  unwrap(): Backend {
    return this.inner;
  }

  create(): Promise<void> {
    return this.retry('create', () => this.inner.create());
  }

  save(h: Handle, data: Uint8Array): Promise<void> {
    return this.retry(`save ${filePath(h)}`, async () => {
      try {
        await this.inner.save(h, data);
      } catch (err) {
        // An earlier attempt may have stored the file and lost only the reply; the same name holds the
        // same bytes (content hash), so finding it complete now means the save succeeded.
        if (err instanceof BackendError && err.code === 'exists' && (await this.sameSize(h, data.length))) return;
        throw err;
      }
    });
  }

  load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    return this.retry(`load ${filePath(h)}`, () => this.inner.load(h, length, offset));
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.retry(`stat ${filePath(h)}`, () => this.inner.stat(h));
  }

  remove(h: Handle): Promise<void> {
    return this.retry(`remove ${filePath(h)}`, () => this.inner.remove(h));
  }

  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    for (let attempt = 1; ; attempt++) {
      let yielded = false;
      try {
        for await (const f of this.inner.list(type)) {
          yielded = true;
          yield f;
        }
        return;
      } catch (err) {
        if (yielded || !this.retryable(err, attempt)) throw err;
        await this.wait(`list ${type}`, err, attempt);
      }
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async sameSize(h: Handle, size: number): Promise<boolean> {
    try {
      return (await this.retry(`stat ${filePath(h)}`, () => this.inner.stat(h))).size === size;
    } catch {
      return false;
    }
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!this.retryable(err, attempt)) throw err;
        await this.wait(what, err, attempt);
      }
    }
  }

  private retryable(err: unknown, attempt: number): boolean {
    return err instanceof BackendError && err.code === 'transient' && attempt < this.attempts;
  }

  private async wait(what: string, err: unknown, attempt: number): Promise<void> {
    // Jitter (a random delay between half the exponential cap and the cap) spreads out the retries of
    // parallel uploads that failed together, so they do not hit a recovering server at once.
    const cap = Math.min(this.max, this.base * 2 ** (attempt - 1));
    const ms = Math.round(cap * (0.5 + this.random() / 2));
    // Drivers start their messages with the location already; do not say it twice.
    const reason = (err instanceof Error ? err.message : String(err)).replace(`${this.location}: `, '');
    this.opts.onRetry?.(`${this.location}: ${what}: ${reason}; retrying in ${(ms / 1000).toFixed(1)} s (${attempt}/${this.attempts - 1})`);
    await this.sleep(ms);
  }
}
