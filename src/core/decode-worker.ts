/** A worker thread that verifies the blobs of pack data for check and restore, and writes restored ones. */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeBlob } from './blob.js';
import { loadZstd } from './compress.js';
import { useFastMac, type MasterKey } from './crypto.js';
import { hashID } from './hash.js';
import type { DecodeReply, DecodeRequest } from './decode-pool.js';

// Restores and checks decompress every compressed blob: the WebAssembly decoder, from the start.
await loadZstd();
await useFastMac();

const key = workerData as MasterKey;
const port = parentPort!;
// Plaintext of one blob at a time (written out before the next is decoded); grows to the largest.
let scratch = Buffer.allocUnsafe(0);

function writeAt(fd: number, data: Uint8Array, position: number): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off, position + off);
}

port.on('message', (m: DecodeRequest) => {
  const data = new Uint8Array(m.data, m.offset, m.length);
  const errors: (string | null)[] = [];
  for (const b of m.blobs) {
    try {
      const at = b.offset - m.base;
      if (at < 0 || at + b.length > data.length) throw new Error('lies past the end of the pack');
      if (scratch.length < b.length) scratch = Buffer.allocUnsafe(Math.max(b.length, 1024 * 1024));
      const plain = decodeBlob(key, b.id, data.subarray(at, at + b.length), b.uncompressedLength, scratch);
      for (const w of b.writes ?? []) writeAt(w.fd, plain, w.position);
      errors.push(null);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  const packHashOk = m.packId === undefined ? undefined : hashID(data) === m.packId;
  const reply: DecodeReply = { seq: m.seq, errors, packHashOk };
  port.postMessage(reply);
});
