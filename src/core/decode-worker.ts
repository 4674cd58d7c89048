/** A worker thread that verifies and decodes the blobs of pack data for restore and check. */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeBlob, decodeBlobInto, plainLength } from './blob.js';
import { type MasterKey } from './crypto.js';
import { hashID } from './hash.js';
import type { DecodeInit, DecodeReply, DecodeRequest } from './decode-pool.js';

const init = workerData as DecodeInit;
const key: MasterKey = init.key;
const port = parentPort!;

port.on('message', (m: DecodeRequest) => {
  const data = new Uint8Array(m.data, m.offset, m.length);
  const errors: (string | null)[] = [];
  const lengths = m.wantPlain ? m.blobs.map(plainLength) : [];
  // Plaintexts are decrypted straight into the shared output buffer the pool chose (or, for an
  // oversized request, a fresh one sent back): no extra copies.
  const total = lengths.reduce((a, b) => a + b, 0);
  const out = m.out >= 0 ? Buffer.from(init.outputs[m.out]!, 0, total) : Buffer.from(new ArrayBuffer(total));
  let o = 0;
  for (const [i, b] of m.blobs.entries()) {
    try {
      const at = b.offset - m.base;
      if (at < 0 || at + b.length > data.length) throw new Error('lies past the end of the pack');
      const raw = data.subarray(at, at + b.length);
      if (m.wantPlain) decodeBlobInto(key, b.id, raw, b.uncompressedLength, out, o);
      else decodeBlob(key, b.id, raw, b.uncompressedLength);
      errors.push(null);
    } catch (err) {
      errors.push((err as Error).message);
    }
    if (m.wantPlain) o += lengths[i]!;
  }
  const packHashOk = m.packId === undefined ? undefined : hashID(data) === m.packId;
  const plain = m.out >= 0 ? undefined : (out.buffer as ArrayBuffer);
  const reply: DecodeReply = { seq: m.seq, errors, packHashOk, plain, lengths };
  port.postMessage(reply, plain ? [plain] : []);
});
