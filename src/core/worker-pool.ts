/**
 * The main thread's side of the chunk workers: batches file jobs, answers "which of these blobs are
 * new?" from the writer, and hands finished packs to the writer for upload.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { keepHeapSettings } from '../util/heap-settings.js';
import { framePieces } from './compress.js';
import { type Staging } from './pack-builder.js';
import { stagingError, type RepoWriter } from './repo-writer.js';
import type { FromWorker, ToWorker, WorkerFile, WorkerInit } from './worker-protocol.js';

export type FileResult =
  | { ok: true; content: string[]; bytes: number; changed: boolean }
  | { ok: false; code: string; message: string };

interface Slot {
  worker: Worker;
  batches: number;
  jobs: Set<number>;
  flushed?: () => void;
  /** close() stops it: its exit is expected. */
  stopping?: boolean;
}

const maxBatchFiles = 256;
const maxOpenJobs = 256;
const maxBatchBytes = 16 * 1024 * 1024;

export class ChunkPool {
  private readonly slots: Slot[] = [];
  private readonly queue: WorkerFile[] = [];
  private readonly waiting = new Map<number, (r: FileResult) => void>();
  private nextJob = 1;
  private starting: Promise<void> | undefined;
  private retiring: Promise<void> | undefined;
  private staging: Staging[] = [];
  private scheduled = false;
  private fatal: Error | undefined;

  private readonly slotWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private open = 0;
  /** Bytes of the files in `queue`. */
  private queuedBytes = 0;
  private init: WorkerInit | undefined;
  /** Frames a worker is compressing, by request number. */
  private readonly compressing = new Map<number, { resolve: (z: Uint8Array) => void; reject: (err: Error) => void }>();
  /** compress() calls under way: the workers stop only once these are done. */
  private readonly compressions = new Set<Promise<unknown>>();
  private nextRequest = 1;

  constructor(
    /** One per destination, in the order the workers know them. */
    private readonly writers: readonly RepoWriter[],
    private readonly opts: { polynomial: bigint; packSize: number; workers?: number; onUploadError: (dest: number, err: unknown) => void },
  ) {}

  /**
   * The first worker starts on the first file to read: a backup of an unchanged library needs none.
   * More start while files wait (see dispatch), up to `workers` (one per core, at most 8).
   */
  private async start(): Promise<void> {
    const opts = this.opts;
    const staging = (this.staging = await Promise.all(this.writers.map((w) => w.staging())));
    this.init = {
      destinations: this.writers.map((w, i) => ({
        key: { encrypt: w.repo.key.encrypt, macK: w.repo.key.macK, macR: w.repo.key.macR },
        compress: w.repo.compressed,
        staging: staging[i]!,
      })),
      polynomial: opts.polynomial.toString(16),
      packSize: opts.packSize,
      // A chunk is at most 8 MiB (restic's limit); the arena holds the one being cut plus room to read.
      arenaSize: 9 * 1024 * 1024,
      // Two packs uploading per worker while it fills the next: with a worker per core that is enough
      // uploads at once to fill an uplink or a disk. Packs wait in files, not in memory.
      packsInFlight: 2,
    };
    this.addWorker();
  }

  private get maxWorkers(): number {
    return this.opts.workers ?? Math.max(1, Math.min(os.availableParallelism(), 8));
  }

  private addWorker(): void {
    // A worker's garbage is small and short-lived (messages, chunk IDs): a small young generation
    // suffices and keeps its heap at ~10 MiB instead of ~25.
    const worker = new Worker(new URL('./chunk-worker.js', import.meta.url), { workerData: this.init, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const slot: Slot = { worker, batches: 0, jobs: new Set() };
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', (err) => this.fail(err));
    // A worker that ends by itself (not through close) leaves files that would wait forever.
    worker.on('exit', (code) => {
      if (!slot.stopping) this.fail(new Error(`a chunk worker stopped unexpectedly (exit code ${code})`));
    });
    keepHeapSettings(worker);
    this.slots.push(slot);
  }

  /**
   * Take one of the `maxOpenJobs` places for a file to read; waits while all are taken. This is the
   * backpressure that keeps a walk over a huge library from racing ahead of the workers.
   */
  async reserve(): Promise<void> {
    if (this.fatal) throw this.fatal; // failed or closed: no new workers
    if (!this.starting) this.retiring = undefined; // workers again after a retire
    await (this.starting ??= this.start());
    if (this.open >= maxOpenJobs) await new Promise<void>((r) => this.slotWaiters.push(r));
    if (this.fatal) throw this.fatal;
    this.open++;
  }

  /** Read a file in a worker; call reserve() first. The place is given back when it is done. */
  async submit(file: Omit<WorkerFile, 'job'>): Promise<FileResult> {
    try {
      // A pool that has failed reads nothing more (its workers may be gone): the file fails at once.
      if (this.fatal) return { ok: false, code: 'EFATAL', message: this.fatal.message };
      const job = this.nextJob++;
      this.queue.push({ ...file, job });
      this.queuedBytes += file.size;
      this.schedule();
      return await new Promise<FileResult>((resolve) => this.waiting.set(job, resolve));
    } finally {
      this.open--;
      this.slotWaiters.shift()?.();
    }
  }

  /**
   * zstd in a running worker, for the main thread's tree blobs and index files; undefined when no
   * worker runs (then the caller compresses itself). The workers load zstd anyway for anything
   * compressible they read, and stop when the walk is done: on the main thread its WebAssembly heap
   * (~7 MiB resident, never given back) stayed for the whole backup and was part of its peak.
   */
  compress(data: Uint8Array): Promise<Uint8Array> | undefined {
    if (this.fatal || this.slots.length === 0) return undefined;
    const p = this.compressFrames(data);
    const settled = p.then(() => undefined, () => undefined);
    this.compressions.add(settled);
    void settled.then(() => this.compressions.delete(settled));
    return p;
  }

  /**
   * One frame's worth at a time (see framePieces; the result is the same as compressing the whole):
   * what is copied to the worker stays that small, where a folder of 14,000 photos (a 5 MB tree)
   * had a second copy of its tree in flight at the moment the walk's memory was at its highest.
   */
  private async compressFrames(data: Uint8Array): Promise<Uint8Array> {
    const frames: Uint8Array[] = [];
    for (const piece of framePieces(data)) frames.push(await this.compressFrame(piece));
    return frames.length === 1 ? frames[0]! : Buffer.concat(frames);
  }

  private compressFrame(piece: Uint8Array): Promise<Uint8Array> {
    // A worker may have failed while an earlier frame was out (stop() waits for the rest).
    if (this.fatal) return Promise.reject(this.fatal);
    const req = this.nextRequest++;
    const slot = this.slots[req % this.slots.length]!;
    const p = new Promise<Uint8Array>((resolve, reject) => this.compressing.set(req, { resolve, reject }));
    // An exact copy, transferred: posting the view itself would copy its whole ArrayBuffer (for a
    // Buffer, an 8 KiB slab; for a large folder's tree, a buffer sized for its estimate).
    const copy = new Uint8Array(piece);
    slot.worker.postMessage({ t: 'compress', req, data: copy } satisfies ToWorker, [copy.buffer]);
    return p;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  /**
   * Hand queued files to the least busy worker, two batches each at most. Where every worker has
   * two and a whole batch's bytes still wait, another worker starts (up to maxWorkers): the workers
   * are behind. Small files never get there, since the walk holds at most `maxOpenJobs` files open:
   * the main thread's listing, stat and messages are their pace, and one worker keeps up with it.
   * Measured on 2 cores, 58,833 photos of ~20 KB, first backup, three alternating pairs: one worker
   * 6.29-6.57 s and a peak of 153-156 MiB, two 6.42-6.65 s and 166-178 MiB. 1.92 GiB of 4 MB photos
   * needs the second: 5.39 s with two, 10.8 with one.
   */
  private dispatch(): void {
    for (;;) {
      if (this.queue.length === 0 || this.slots.length === 0) return;
      let slot = this.slots.reduce((a, b) => (b.batches < a.batches ? b : a));
      if (slot.batches >= 2) {
        if (this.slots.length >= this.maxWorkers || this.queuedBytes < maxBatchBytes) return;
        this.addWorker();
        slot = this.slots.at(-1)!;
      }
      const files: WorkerFile[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && files.length < maxBatchFiles && (bytes < maxBatchBytes || files.length === 0)) {
        const f = this.queue.shift()!;
        bytes += f.size;
        this.queuedBytes -= f.size;
        files.push(f);
        slot.jobs.add(f.job);
      }
      slot.batches++;
      this.send(slot, { t: 'files', files });
    }
  }

  private send(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case 'hashes': {
        const n = this.writers.length;
        const need = new Uint8Array(m.ids.length * n);
        for (let i = 0; i < m.ids.length; i++) {
          for (let d = 0; d < n; d++) need[i * n + d] = this.writers[d]!.claim(m.ids[i]!) ? 1 : 0;
        }
        this.send(slot, { t: 'need', need });
        return;
      }
      case 'pack': {
        // The ack comes from the writer once it is done with the pack; if upload() refuses it
        // outright (the destination had failed), no upload started and the ack is sent here.
        const ack = () => this.send(slot, { t: 'ack' });
        this.writers[m.dest]!.upload({ id: m.id, file: m.file, size: m.size, blobs: m.blobs }, ack).catch((err) => {
          ack();
          this.opts.onUploadError(m.dest, err);
        });
        return;
      }
      case 'pack-error': {
        const err = Object.assign(new Error(m.message), { code: m.code || undefined });
        const w = this.writers[m.dest]!;
        this.opts.onUploadError(m.dest, stagingError(err, w.repo.backend.location, this.staging[m.dest]!));
        return;
      }
      case 'file-done':
        return this.settle(slot, m.job, { ok: true, content: m.content, bytes: m.bytes, changed: m.changed });
      case 'file-error':
        return this.settle(slot, m.job, { ok: false, code: m.code, message: m.message });
      case 'batch-done':
        slot.batches--;
        this.dispatch();
        return;
      case 'flushed':
        slot.flushed?.();
        return;
      case 'compressed':
        this.compressing.get(m.req)?.resolve(m.data);
        this.compressing.delete(m.req);
        return;
      case 'fatal':
        this.fail(new Error(`chunk worker failed: ${m.message}`));
    }
  }

  private settle(slot: Slot, job: number, r: FileResult): void {
    slot.jobs.delete(job);
    const resolve = this.waiting.get(job);
    this.waiting.delete(job);
    resolve?.(r);
    if (this.waiting.size === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private fail(err: unknown): void {
    this.fatal ??= err instanceof Error ? err : new Error(String(err));
    for (const s of this.slots) s.flushed?.();
    // Every file still waiting gets the failure: the backup stops instead of hanging.
    for (const [job, resolve] of this.waiting) {
      this.waiting.delete(job);
      resolve({ ok: false, code: 'EFATAL', message: this.fatal.message });
    }
    for (const w of this.slotWaiters.splice(0)) w();
    for (const w of this.idleWaiters.splice(0)) w();
    for (const c of this.compressing.values()) c.reject(this.fatal);
    this.compressing.clear();
  }

  /** Worker threads alive now. */
  get running(): number {
    return this.slots.length;
  }

  get error(): Error | undefined {
    return this.fatal;
  }

  /** Every worker finishes its pack and hands it over; resolves when all packs went to the writer. */
  async flush(): Promise<void> {
    if (this.fatal) throw this.fatal;
    await Promise.all(this.slots.map((slot) => new Promise<void>((resolve) => {
      slot.flushed = resolve;
      this.send(slot, { t: 'flush' });
    })));
    if (this.fatal) throw this.fatal;
  }

  /**
   * Once the last file has been handed over: wait for every file in flight, have each worker hand
   * over its pack, and stop the workers, so that what comes after (a backup's last folder trees,
   * its index) has their memory. A later reserve() would start new workers.
   */
  retire(): Promise<void> {
    return (this.retiring ??= (async () => {
      if (!this.starting) return;
      await this.starting;
      while (!this.fatal && (this.waiting.size > 0 || this.queue.length > 0)) await new Promise<void>((r) => this.idleWaiters.push(r));
      await this.flush();
      await this.stop();
    })());
  }

  /**
   * For good: files still queued or being read fail, and so do later ones (reserve() throws) rather
   * than starting new workers. An interrupted backup closes the pool while its walk is still handing
   * over files; one of them used to reach a pool with no workers and crash the process (exit 1
   * instead of 130).
   */
  async close(): Promise<void> {
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.fail(new Error('the backup stopped before this file was read'));
    await this.stop();
  }

  /** Stop the workers; a later reserve() starts new ones (see retire()). */
  private async stop(): Promise<void> {
    // Compressions under way finish first, on the workers that took them (one asked for meanwhile
    // is waited for too).
    while (this.compressions.size > 0) await Promise.all(this.compressions);
    const slots = this.slots.splice(0);
    this.starting = undefined;
    for (const s of slots) s.stopping = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
