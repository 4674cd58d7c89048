/**
 * Keeps at most N calls of the wrapped backend in flight; the rest wait in line (first come, first
 * served). Servers punish too many parallel connections (SFTP servers cap sessions, S3 throttles), and
 * a bounded number of uploads also bounds the memory held by packs waiting to be sent.
 */
import { Semaphore } from '../util/semaphore.js';
import type { Backend, FileInfo, FileType, Handle } from './backend.js';

export { Semaphore } from '../util/semaphore.js';

export class LimiterBackend implements Backend {
  readonly location: string;
  readonly connections: number;
  private readonly sem: Semaphore;

  readonly saveFile?: (h: Handle, file: string) => Promise<void>;
  readonly stagingDir?: () => Promise<string>;
  readonly localFile?: (h: Handle) => string;
  readonly immediateListing?: () => Promise<boolean>;

  constructor(private readonly inner: Backend, limit = inner.connections) {
    this.location = inner.location;
    this.connections = limit;
    this.sem = new Semaphore(limit);
    if (inner.saveFile && inner.stagingDir) {
      const saveFile = inner.saveFile.bind(inner);
      const stagingDir = inner.stagingDir.bind(inner);
      this.saveFile = (h, file) => this.sem.run(() => saveFile(h, file));
      this.stagingDir = stagingDir;
    }
    // A worker's read of a local file is not a call on the backend: it is not limited here.
    if (inner.localFile) this.localFile = inner.localFile.bind(inner);
    if (inner.immediateListing) this.immediateListing = inner.immediateListing.bind(inner);
  }

  unwrap(): Backend {
    return this.inner;
  }

  create(): Promise<void> {
    return this.sem.run(() => this.inner.create());
  }

  save(h: Handle, data: Uint8Array): Promise<void> {
    return this.sem.run(() => this.inner.save(h, data));
  }

  load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    return this.sem.run(() => this.inner.load(h, length, offset));
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.sem.run(() => this.inner.stat(h));
  }

  remove(h: Handle): Promise<void> {
    return this.sem.run(() => this.inner.remove(h));
  }

  /**
   * Holds a slot only while the driver fetches the next entry, not while the caller handles it: a
   * caller that loads files while listing would otherwise deadlock a limit of 1.
   */
  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    const it = this.inner.list(type)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const r = await this.sem.run(() => it.next());
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
