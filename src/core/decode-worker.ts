/** A worker thread that verifies the blobs of pack data for check and restore, and writes restored ones. */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeBlob } from './blob.js';
import { loadZstd } from './compress.js';
import { chooseCrypto, type MasterKey } from './crypto.js';
import { hashID } from './hash.js';
import type { DecodeReply, DecodeRequest, KeyMessage } from './decode-pool.js';
import { raiseMallocTrimThreshold } from '../util/heap-settings.js';

// Restores and checks decompress every compressed blob: the WebAssembly decoder, from the start.
await loadZstd();
chooseCrypto();
// Before the first blob: decrypting with Node's ciphers, where the addon was not built, drops
// buffers in bulk (see there).
raiseMallocTrimThreshold();

const { window } = workerData as { window: number };
// The master key comes in the first message: the pool may start before it is derived.
let key: MasterKey | undefined;
const port = parentPort!;
// Plaintext of one blob at a time (written out before the next is decoded); grows to the largest.
let scratch = Buffer.allocUnsafe(0);
// Pack bytes read here: a window of them at a time (or one blob, if larger).
let packBuf = Buffer.allocUnsafe(0);

/**
 * Reads `size` bytes of a pack file from pack offset `base` a window at a time, for blobs asked in
 * the order of their offsets, and hashes every byte once when the pack's ID is to be checked. A whole
 * pack per worker (16 MiB, kept by the worker's malloc arena) cost a restore of 58,833 small photos
 * ~25 MiB of its peak, and one of 1.92 GiB of photos ~33 MiB.
 */
class PackFile {
  private start = 0;
  private end = 0;
  /** Pack offset up to which the bytes went into the hash. */
  private hashed: number;
  /** A read came back short (the file shrank): nothing read here may be trusted. */
  failed = false;

  constructor(readonly fd: number, readonly base: number, readonly size: number, private readonly hash?: Hash) {
    this.hashed = base;
  }

  /** The bytes at pack offset `at`, `length` of them; undefined past the end or after a failed read. */
  get(at: number, length: number): Uint8Array | undefined {
    if (at < this.base || at + length > this.base + this.size || this.failed) return undefined;
    if (at < this.start || at + length > this.end) {
      // With a hash to feed, the window starts where hashing stopped, so no byte is skipped.
      const from = this.hash ? Math.min(at, this.hashed) : at;
      if (!this.load(from, Math.min(Math.max(window, at + length - from), this.base + this.size - from))) return undefined;
    }
    return packBuf.subarray(at - this.start, at - this.start + length);
  }

  /** Hash what no blob asked for, up to the end; the pack's SHA-256 as hex. */
  finish(): string | undefined {
    if (!this.hash) return undefined;
    while (!this.failed && this.hashed < this.base + this.size) this.load(this.hashed, Math.min(window, this.base + this.size - this.hashed));
    return this.failed ? undefined : this.hash.digest('hex');
  }

  private load(from: number, length: number): boolean {
    if (packBuf.length < length) packBuf = Buffer.allocUnsafe(length);
    for (let got = 0; got < length; ) {
      const n = readSync(this.fd, packBuf, got, length - got, from + got);
      if (n === 0) {
        this.failed = true;
        return false;
      }
      got += n;
    }
    this.start = from;
    this.end = from + length;
    if (this.hash && this.end > this.hashed) {
      this.hash.update(packBuf.subarray(this.hashed - from, length));
      this.hashed = this.end;
    }
    return true;
  }
}

/** Open `length` bytes at `base` of `file` (0: to its end); undefined if the file cannot be opened or is shorter. */
function openPack(file: string, base: number, length: number, hash: boolean): PackFile | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const available = fstatSync(fd).size - base;
    const size = length || available;
    if (available < size || size < 0) throw new Error('short');
    const pack = new PackFile(fd, base, size, hash ? createHash('sha256') : undefined);
    fd = undefined;
    return pack;
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

port.on('message', (m: DecodeRequest | KeyMessage) => {
  if ('key' in m) {
    key = m.key;
    return;
  }
  const bytes = m.file === undefined ? new Uint8Array(m.data!, m.offset, m.length) : undefined;
  const pack = m.file === undefined ? undefined : openPack(m.file, m.base, m.length, m.packId !== undefined);
  try {
    port.postMessage(bytes ? decodeAll(m, (at, length) => (at >= 0 && at + length <= bytes.length ? bytes.subarray(at, at + length) : undefined), () => hashID(bytes), bytes.length)
      : pack ? decodeAll(m, (at, length) => pack.get(m.base + at, length), () => pack.finish(), pack.size, () => pack.failed)
      : ({ seq: m.seq, errors: [], size: 0, readFailed: true } satisfies DecodeReply));
  } finally {
    if (pack) closeSync(pack.fd);
  }
});

/**
 * Verify and write the blobs of one request. `get` gives a blob's bytes by its offset from `m.base`
 * (undefined: not there); blobs are taken in the order of their offsets (a pack file is read forward).
 */
function decodeAll(m: DecodeRequest, get: (at: number, length: number) => Uint8Array | undefined, digest: () => string | undefined, size: number, readFailed = () => false): DecodeReply {
  const errors: (string | null)[] = new Array(m.blobs.length).fill(null);
  const unwritten: { path: string; message: string }[] = [];
  const order = m.blobs.map((_, i) => i).sort((a, b) => m.blobs[a]!.offset - m.blobs[b]!.offset);
  for (const i of order) {
    const b = m.blobs[i]!;
    let plain: Uint8Array;
    try {
      const raw = get(b.offset - m.base, b.length);
      if (readFailed()) break;
      if (!raw) throw new Error('lies past the end of the pack');
      if (scratch.length < b.length) scratch = Buffer.allocUnsafe(Math.max(b.length, 1024 * 1024));
      plain = decodeBlob(key!, b.id, raw, b.uncompressedLength, scratch);
    } catch (err) {
      errors[i] = (err as Error).message;
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
  const packHash = m.packId === undefined ? undefined : digest();
  // A file that shrank while it was read: the caller loads the pack through the backend instead.
  if (readFailed()) return { seq: m.seq, errors: [], size: 0, readFailed: true };
  return { seq: m.seq, errors, packHashOk: m.packId === undefined ? undefined : packHash === m.packId, size, unwritten };
}
