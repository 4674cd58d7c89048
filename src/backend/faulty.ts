/**
 * A test helper that makes a backend unreliable the way networks are: a share of calls fail with
 * `transient` errors (some before reaching the backend, some after it did the work but "lost the
 * reply"), calls are delayed, and loads are cut short. Deterministic for a given seed, so a failing
 * test can be replayed.
 * It offers no saveFile: finished packs reach the wrapped backend through save, where faults are injected.
 */
import { prng } from '../util/prng.js';
import { BackendError, filePath, type Backend, type FileInfo, type FileType, type Handle } from './backend.js';

export interface FaultyOptions {
  /** Seed of the pseudo-random sequence (default 1). */
  seed?: number;
  /** Share of calls, 0..1, that fail with a transient error (default 0). */
  failRate?: number;
  /** Share of loads, 0..1, whose transfer stops early (default 0). */
  truncateRate?: number;
  /**
   * What a cut-short load does: `error` throws a transient error as a correct driver must; `silent`
   * returns the short bytes, to prove the layers above check lengths and hashes (default `error`).
   */
  truncateMode?: 'error' | 'silent';
  /** Each call waits a random time up to this many milliseconds (default 0). */
  maxDelayMs?: number;
}

export class FaultyBackend implements Backend {
  readonly location: string;
  readonly connections: number;
  /** Counts of injected faults, for tests to assert that faults really happened. */
  readonly injected = { failedBefore: 0, failedAfter: 0, truncated: 0 };
  private readonly rand: () => number;

  constructor(private readonly inner: Backend, private readonly opts: FaultyOptions = {}) {
    this.location = inner.location;
    this.connections = inner.connections;
    this.rand = prng(opts.seed ?? 1);
  }

  unwrap(): Backend {
    return this.inner;
  }

  create(): Promise<void> {
    return this.call('create', () => this.inner.create());
  }

  save(h: Handle, data: Uint8Array): Promise<void> {
    return this.call(`save ${filePath(h)}`, () => this.inner.save(h, data));
  }

  async load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    const data = await this.call(`load ${filePath(h)}`, () => this.inner.load(h, length, offset));
    if (data.length > 0 && this.rand() < (this.opts.truncateRate ?? 0)) {
      this.injected.truncated++;
      const cut = Math.floor(this.rand() * data.length);
      if (this.opts.truncateMode === 'silent') return data.subarray(0, cut);
      throw new BackendError('transient', `${this.location}: load ${filePath(h)}: connection closed after ${cut} of ${data.length} bytes (injected)`);
    }
    return data;
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.call(`stat ${filePath(h)}`, () => this.inner.stat(h));
  }

  remove(h: Handle): Promise<void> {
    return this.call(`remove ${filePath(h)}`, () => this.inner.remove(h));
  }

  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    await this.call(`list ${type}`, async () => undefined);
    yield* this.inner.list(type);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const delay = Math.floor(this.rand() * (this.opts.maxDelayMs ?? 0));
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const failRate = this.opts.failRate ?? 0;
    const r = this.rand();
    if (r < failRate / 2) {
      this.injected.failedBefore++;
      throw new BackendError('transient', `${this.location}: ${what}: connection reset (injected)`);
    }
    const result = await fn();
    if (r < failRate) {
      // The work was done but the reply was lost: the caller must cope with a repeated call.
      this.injected.failedAfter++;
      throw new BackendError('transient', `${this.location}: ${what}: timeout waiting for the reply (injected)`);
    }
    return result;
  }
}
