/** An in-memory backend for tests: the same contract as a real destination, no I/O. */
import { BackendError, filePath, type Backend, type FileInfo, type FileType, type Handle } from './backend.js';

export class MemoryBackend implements Backend {
  readonly location: string = 'memory:';
  readonly connections = 8;
  private readonly files = new Map<string, Uint8Array>();

  async create(): Promise<void> {
    if (this.files.has('config')) throw new BackendError('exists', 'a repository already exists in memory');
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const p = filePath(h);
    if (this.files.has(p)) throw new BackendError('exists', `${p} already exists`);
    this.files.set(p, Uint8Array.from(data));
  }

  async load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    const data = this.get(h);
    const end = length === 0 ? data.length : offset + length;
    if (offset < 0 || end > data.length) {
      throw new BackendError('permanent', `${filePath(h)}: range ${offset}+${length} is past its end (${data.length})`);
    }
    return data.slice(offset, end);
  }

  async stat(h: Handle): Promise<FileInfo> {
    return { name: h.name, size: this.get(h).length };
  }

  async remove(h: Handle): Promise<void> {
    this.files.delete(filePath(h));
  }

  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    const snapshot = [...this.files.entries()];
    for (const [p, data] of snapshot) {
      const name = p.slice(p.lastIndexOf('/') + 1);
      if (p !== 'config' && filePath({ type, name }) === p) yield { name, size: data.length };
    }
  }

  async close(): Promise<void> {}

  /** Tests reach in to damage stored bytes. */
  raw(h: Handle): Uint8Array {
    return this.get(h);
  }

  private get(h: Handle): Uint8Array {
    const data = this.files.get(filePath(h));
    if (!data) throw new BackendError('not-found', `${filePath(h)} does not exist`);
    return data;
  }
}
