/** A worker thread that verifies the blobs of pack data for check and restore, and writes restored ones. */
import { closeSync, constants as fsc, fstatSync, openSync, readSync, writeSync } from 'node:fs';
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
// Pack bytes read here, one pack at a time; grows to the largest pack.
let packBuf = Buffer.allocUnsafe(0);

/** `length` bytes at `base` of `file` (0: to its end), or undefined if they cannot all be read. */
function readPack(file: string, base: number, length: number): Uint8Array | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = length || fstatSync(fd).size - base;
    if (size < 0) return undefined;
    if (packBuf.length < size) packBuf = Buffer.allocUnsafe(size);
    for (let got = 0; got < size; ) {
      const n = readSync(fd, packBuf, got, size - got, base + got);
      if (n === 0) return undefined;
      got += n;
    }
    return packBuf.subarray(0, size);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write into a file the restore created (never following a link put in its place). */
function writeAt(file: string, data: Uint8Array, position: number): void {
  const fd = openSync(file, fsc.O_WRONLY | fsc.O_NOFOLLOW);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off, position + off);
  } finally {
    closeSync(fd);
  }
}

port.on('message', (m: DecodeRequest) => {
  const data = m.file === undefined ? new Uint8Array(m.data!, m.offset, m.length) : readPack(m.file, m.base, m.length);
  if (!data) {
    port.postMessage({ seq: m.seq, errors: [], size: 0, readFailed: true } satisfies DecodeReply);
    return;
  }
  const errors: (string | null)[] = [];
  const unwritten: { path: string; message: string }[] = [];
  for (const b of m.blobs) {
    let plain: Uint8Array;
    try {
      const at = b.offset - m.base;
      if (at < 0 || at + b.length > data.length) throw new Error('lies past the end of the pack');
      if (scratch.length < b.length) scratch = Buffer.allocUnsafe(Math.max(b.length, 1024 * 1024));
      plain = decodeBlob(key, b.id, data.subarray(at, at + b.length), b.uncompressedLength, scratch);
      errors.push(null);
    } catch (err) {
      errors.push((err as Error).message);
      continue;
    }
    for (const w of b.writes ?? []) {
      try {
        writeAt(w.path, plain, w.position);
      } catch (err) {
        unwritten.push({ path: w.path, message: (err as Error).message });
      }
    }
  }
  const packHashOk = m.packId === undefined ? undefined : hashID(data) === m.packId;
  const reply: DecodeReply = { seq: m.seq, errors, packHashOk, size: data.length, unwritten };
  port.postMessage(reply);
});
