/**
 * Restore and check spend their CPU on MAC checks, decryption and SHA-256 of every blob. This pool
 * spreads that work over worker threads, one pack at a time each; pack bytes move to the worker
 * without a copy (or are read there). For a restore the worker also writes each verified blob into
 * the files that use it, so plaintext never crosses threads. It opens a file for each write and
 * closes it after, as restic does: a restore of 58,000 photos holding every file open failed with
 * EMFILE wherever the limit of open files is lower.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { keepHeapSettings } from '../util/heap-settings.js';
import { type MasterKey } from './crypto.js';
import { type ID } from './hash.js';

export interface DecodeBlob {
  id: ID;
  offset: number;
  length: number;
  uncompressedLength?: number;
  /** Where the verified plaintext goes: files (created, so opened without O_CREAT) and positions (restore only). */
  writes?: { path: string; position: number }[];
}

export interface DecodeRequest {
  seq: number;
  /** The pack bytes, or (with `file`) none: the worker reads `length` bytes at `base` of the file itself (0: to its end). */
  data?: ArrayBuffer;
  file?: string;
  offset: number;
  length: number;
  /** Pack offset of data[0]. */
  base: number;
  blobs: DecodeBlob[];
  /** Also check that the data's SHA-256 is this pack ID (data must be the whole pack). */
  packId?: ID;
}

/** Sent to each worker once, before any request. */
export interface KeyMessage {
  key: MasterKey;
}

export interface DecodeReply {
  seq: number;
  /** Per blob: null if it verified, else why not. */
  errors: (string | null)[];
  /** Places a verified blob could not be written to, and why (restore only). */
  unwritten?: { path: string; message: string }[];
  packHashOk?: boolean;
  /** Bytes of pack data verified. */
  size: number;
  /** The worker could not read the file (gone, shorter, unreadable): nothing was verified. */
  readFailed?: boolean;
}

interface Slot {
  worker: Worker;
  busy: number;
  /** Why this worker is gone (it failed, or stopped on its own); it gets no more work. */
  gone?: Error;
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (r: DecodeReply) => void; reject: (e: Error) => void; slot: Slot }>();
  private seq = 0;
  private closing = false;
  private keyed = false;

  /**
   * `key`: the master key, or none yet (see useKey). `window`: bytes of a pack file a worker reads
   * at once (more only for a larger blob).
   */
  constructor(key?: MasterKey, workers = Math.max(1, Math.min(os.availableParallelism(), 8)), window = 2 * 1024 * 1024) {
    const data = { window };
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: data });
      keepHeapSettings(worker);
      const slot = { worker, busy: 0 };
      worker.on('message', (r: DecodeReply) => {
        const p = this.pending.get(r.seq);
        this.pending.delete(r.seq);
        slot.busy--;
        p?.resolve(r);
      });
      worker.on('error', (err) => this.lose(slot, err));
      worker.on('exit', (code) => {
        if (!this.closing) this.lose(slot, new Error(`a verification worker stopped unexpectedly (exit code ${code})`));
      });
      this.slots.push(slot);
    }
    if (key) this.useKey(key);
  }

  /**
   * Give the workers the master key; work may be sent from then on. A pool made before the key is
   * known (while it is derived, on one core) loads its workers meanwhile: ~180 ms on two cores.
   */
  useKey(key: MasterKey): void {
    if (this.keyed) return;
    this.keyed = true;
    const message: KeyMessage = { key: { encrypt: key.encrypt, macK: key.macK, macR: key.macR } };
    for (const s of this.slots) s.worker.postMessage(message);
  }

  /** Verify (and, where `writes` say, write out) the blobs of `data`, which starts at pack offset `base`. */
  async decode(data: Uint8Array, base: number, blobs: DecodeBlob[], packId?: ID): Promise<DecodeReply> {
    // Transfer needs a buffer of our own: small loads may share Node's pool with other data.
    const own = data.byteOffset === 0 && data.buffer.byteLength === data.length ? data : Uint8Array.from(data);
    return this.send({ seq: 0, data: own.buffer as ArrayBuffer, offset: 0, length: own.length, base, blobs, packId });
  }

  /**
   * As decode(), for `length` bytes at `base` of a local file (0: to its end), which the worker reads
   * into a buffer of its own: a pack is never held by the main thread, whose malloc heap grew to
   * ~160 MB when it was (a 1.92 GiB restore: peak 320-341 -> 253-280 MiB, and ~5% faster). If the
   * reply says `readFailed`, load the bytes through the backend instead (for its errors and retries).
   */
  decodeFile(file: string, base: number, length: number, blobs: DecodeBlob[], packId?: ID): Promise<DecodeReply> {
    return this.send({ seq: 0, file, offset: 0, length, base, blobs, packId });
  }

  /** A worker is gone: what it was given fails, and it is given nothing more (which would wait forever). */
  private lose(slot: Slot, err: Error): void {
    slot.gone ??= err;
    for (const [seq, p] of this.pending) if (p.slot === slot) {
      this.pending.delete(seq);
      p.reject(slot.gone);
    }
  }

  private send(req: DecodeRequest): Promise<DecodeReply> {
    if (!this.keyed) return Promise.reject(new Error('the verification workers were given no key'));
    const live = this.slots.filter((s) => !s.gone);
    if (live.length === 0) return Promise.reject(this.slots[0]?.gone ?? new Error('no verification workers'));
    const slot = live.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++;
    req.seq = this.seq++;
    return new Promise<DecodeReply>((resolve, reject) => {
      this.pending.set(req.seq, { resolve, reject, slot });
      slot.worker.postMessage(req, req.data ? [req.data] : []);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
