/**
 * Restore and check spend their CPU on MAC checks, decryption and SHA-256 of every blob. This pool
 * spreads that work over worker threads, one pack at a time each; pack bytes move to the worker and
 * plaintexts come back without copies.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { type MasterKey } from './crypto.js';
import { plainLength } from './blob.js';
import { type ID } from './hash.js';

export interface DecodeBlob {
  id: ID;
  offset: number;
  length: number;
  uncompressedLength?: number;
}

export interface DecodeRequest {
  seq: number;
  /** Index of the shared output buffer to decrypt into, or -1 for a fresh buffer sent back. */
  out: number;
  data: ArrayBuffer;
  offset: number;
  length: number;
  /** Pack offset of data[0]. */
  base: number;
  blobs: DecodeBlob[];
  wantPlain: boolean;
  /** Also check that the data's SHA-256 is this pack ID (data must be the whole pack). */
  packId?: ID;
}

export interface DecodeReply {
  seq: number;
  errors: (string | null)[];
  packHashOk?: boolean;
  /** The plaintexts when no shared output buffer was used. */
  plain?: ArrayBuffer;
  lengths: number[];
}

export interface DecodeInit {
  key: MasterKey;
  outputs: SharedArrayBuffer[];
}

/** Shared output buffers: restoring reuses them instead of allocating (and collecting) 16 MiB per pack. */
const outputCount = 4;
const outputSize = 24 * 1024 * 1024;

export interface Decoded {
  /** Per blob: null if it verified, else why not. */
  errors: (string | null)[];
  /** Per blob plaintext (empty for failed blobs), when asked for. */
  plains: Buffer[];
  packHashOk?: boolean;
  /** Give the shared output buffer back: call once `plains` have been written out. */
  release(): void;
}

interface Slot {
  worker: Worker;
  busy: number;
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (r: DecodeReply) => void; reject: (e: Error) => void; slot: Slot }>();
  private seq = 0;
  private readonly outputs = Array.from({ length: outputCount }, () => new SharedArrayBuffer(outputSize));
  private readonly freeOutputs = this.outputs.map((_, i) => i);
  private readonly outputWaiters: (() => void)[] = [];

  constructor(key: MasterKey, workers = Math.max(1, Math.min(os.availableParallelism(), 8))) {
    const data: DecodeInit = { key: { encrypt: key.encrypt, macK: key.macK, macR: key.macR }, outputs: this.outputs };
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: data });
      const slot = { worker, busy: 0 };
      worker.on('message', (r: DecodeReply) => {
        const p = this.pending.get(r.seq);
        this.pending.delete(r.seq);
        slot.busy--;
        p?.resolve(r);
      });
      worker.on('error', (err) => {
        for (const [seq, p] of this.pending) if (p.slot === slot) {
          this.pending.delete(seq);
          p.reject(err);
        }
      });
      this.slots.push(slot);
    }
  }

  async decode(data: Uint8Array, base: number, blobs: DecodeBlob[], opts: { wantPlain: boolean; packId?: ID }): Promise<Decoded> {
    // Transfer needs a buffer of our own: small loads may share Node's pool with other data.
    const own = data.byteOffset === 0 && data.buffer.byteLength === data.length ? data : Uint8Array.from(data);
    const total = opts.wantPlain ? blobs.reduce((s, b) => s + plainLength(b), 0) : 0;
    const out = opts.wantPlain && total <= outputSize ? await this.takeOutput() : -1;
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++;
    const seq = this.seq++;
    const req: DecodeRequest = { seq, out, data: own.buffer as ArrayBuffer, offset: 0, length: own.length, base, blobs, ...opts };
    let reply: DecodeReply;
    try {
      reply = await new Promise<DecodeReply>((resolve, reject) => {
        this.pending.set(seq, { resolve, reject, slot });
        slot.worker.postMessage(req, [req.data]);
      });
    } catch (err) {
      if (out >= 0) this.giveOutput(out);
      throw err;
    }
    const source = out >= 0 ? this.outputs[out]! : reply.plain!;
    const plains: Buffer[] = [];
    let o = 0;
    for (const n of reply.lengths) {
      plains.push(Buffer.from(source, o, n));
      o += n;
    }
    let released = false;
    const release = () => {
      if (!released && out >= 0) this.giveOutput(out);
      released = true;
    };
    return { errors: reply.errors, plains, packHashOk: reply.packHashOk, release };
  }

  private async takeOutput(): Promise<number> {
    while (this.freeOutputs.length === 0) await new Promise<void>((r) => this.outputWaiters.push(r));
    return this.freeOutputs.pop()!;
  }

  private giveOutput(i: number): void {
    this.freeOutputs.push(i);
    this.outputWaiters.shift()?.();
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
