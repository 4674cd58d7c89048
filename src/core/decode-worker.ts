/** A worker thread that verifies and decodes the blobs of pack data for restore and check. */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeBlob } from './blob.js';
import { type MasterKey } from './crypto.js';
import { hashID } from './hash.js';
import type { DecodeReply, DecodeRequest } from './decode-pool.js';

const key = workerData as MasterKey;
const port = parentPort!;

port.on('message', (m: DecodeRequest) => {
  const data = new Uint8Array(m.data, m.offset, m.length);
  const errors: (string | null)[] = [];
  const plains: Buffer[] = [];
  for (const b of m.blobs) {
    try {
      const at = b.offset - m.base;
      if (at < 0 || at + b.length > data.length) throw new Error('lies past the end of the pack');
      const plain = decodeBlob(key, b.id, data.subarray(at, at + b.length), b.uncompressedLength);
      if (m.wantPlain) plains.push(plain);
      errors.push(null);
    } catch (err) {
      errors.push((err as Error).message);
      if (m.wantPlain) plains.push(Buffer.alloc(0));
    }
  }
  const packHashOk = m.packId === undefined ? undefined : hashID(data) === m.packId;
  // All plaintexts in one fresh buffer: one transfer, and no pooled small buffer is ever detached.
  const total = plains.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  const lengths: number[] = [];
  let o = 0;
  for (const p of plains) {
    out.set(p, o);
    o += p.length;
    lengths.push(p.length);
  }
  const reply: DecodeReply = { seq: m.seq, errors, packHashOk, plain: out.buffer, lengths };
  port.postMessage(reply, [out.buffer]);
});
