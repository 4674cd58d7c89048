/**
 * Assembles one pack file in a staging folder: blobs are encrypted into a small write buffer and
 * appended to the file, and the pack ID (SHA-256 of the whole file) is computed as it grows. A pack
 * is never held in memory whole (restic, too, writes packs to temporary files): with a worker per
 * core each filling one pack while another uploads, 16 MiB packs in memory were most of a backup's
 * memory. Where the destination is a local folder, the staging folder is inside it and the finished
 * file is renamed into place (see Backend.saveFile).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { compress, compressMin } from './compress.js';
import { extension, open, sealInto, type MasterKey } from './crypto.js';
import { CorruptError } from './errors.js';
import { hashID, type ID } from './hash.js';
import { packTrailer, parseTrailer, type BlobType, type PackedBlob } from './pack.js';

/** restic's default target pack size. */
export const defaultPackSize = 16 * 1024 * 1024;

/**
 * Blobs per pack at most, so that one pack's blobs always fit one index file (see RepoWriter): a
 * pack of 28,000 small folder trees made one index of 28,000 blobs, the peak of a backup's memory.
 */
export const packMaxBlobs = 10_000;

/** Room kept for the header: 41 bytes per blob plus encryption, far below this for any pack. */
const trailerSlack = 256 * 1024;

/** Blobs are sealed into a buffer of this size and written out when it is full (larger blobs get a larger one). */
const writeBuffer = 1024 * 1024;

/** Where packs are assembled: a folder and the name prefix that marks one backup's files in it. */
export interface Staging {
  dir: string;
  prefix: string;
}

export interface FinishedPack {
  id: ID;
  /** The complete pack file, in the staging folder; whoever uploads it removes it. */
  file: string;
  size: number;
  blobs: PackedBlob[];
}

/** Numbers the files of this thread; with the thread's ID and the backup's prefix, names never collide. */
let fileSeq = 0;

export class PackBuilder {
  private buf = Buffer.allocUnsafe(0);
  /** Bytes in buf not yet written to the file. */
  private buffered = 0;
  /** Index of the first blob whose bytes are still in buf. */
  private firstBuffered = 0;
  /** Of a tree pack, the SHA-256 of each buffered blob's stored payload (see writeOut). */
  private payloadIDs: ID[] = [];
  private fd = -1;
  private file = '';
  private hash: Hash | undefined;
  private used = 0;
  readonly blobs: PackedBlob[] = [];

  constructor(
    private readonly key: MasterKey,
    readonly type: BlobType,
    private readonly staging: Staging,
    private readonly target = defaultPackSize,
  ) {}

  get size(): number {
    return this.used;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** True when no further blob of useful size fits, or the pack has as many blobs as it may. */
  get full(): boolean {
    return this.used + 64 * 1024 >= this.target || this.blobs.length >= packMaxBlobs;
  }

  /**
   * Add a blob. Returns false, adding nothing, if the pack already holds blobs and this one would
   * take it past its target size: finish the pack and add it to the next. (A blob larger than the
   * target gets a pack of its own.) With `tryCompress`, blobs of compressMin bytes or more are
   * compressed (zstd must be loaded) and stored so when that makes them smaller.
   */
  add(id: ID, plain: Uint8Array, tryCompress: boolean): boolean {
    return this.addCompressed(id, plain, tryCompress && plain.length >= compressMin ? compress(plain) : undefined);
  }

  /** add() for a blob compressed elsewhere: `z` is stored instead of `plain` if it is smaller. */
  addCompressed(id: ID, plain: Uint8Array, z: Uint8Array | undefined): boolean {
    const smaller = z !== undefined && z.length < plain.length;
    const payload = smaller ? z : plain;
    const uncompressedLength = smaller ? plain.length : undefined;
    const need = payload.length + extension;
    if (this.used > 0 && this.used + need + trailerSlack > this.target) return false;
    if (this.fd < 0) this.open();
    if (this.buffered + need > this.buf.length) {
      this.writeOut();
      if (need > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(need, writeBuffer));
    }
    // Uncompressed, the payload's hash is the blob's ID.
    if (this.type === 'tree') this.payloadIDs.push(smaller ? hashID(payload) : id);
    const length = sealInto(this.key, payload, this.buf, this.buffered);
    this.blobs.push({ type: this.type, id, offset: this.used, length, uncompressedLength });
    this.buffered += length;
    this.used += length;
    return true;
  }

  private open(): void {
    this.file = path.join(this.staging.dir, `${this.staging.prefix}-${threadId}-${fileSeq++}.pack`);
    this.fd = openSync(this.file, 'wx', 0o600);
    this.hash = createHash('sha256');
  }

  /**
   * Write the buffered blobs to the file. Tree blobs (small, and the ones a snapshot cannot live
   * without) are first decrypted back to the payload that was stored, so a buffer damaged between
   * encryption and upload is refused (that a compressed payload is the tree was checked where it was
   * compressed: compressChecked; this thread then needs no zstd decoder). Data blobs are checked by
   * their MACs and IDs on every read and by `check --read-data`; a full read-back of all data here
   * would cost about a third of a backup's CPU.
   */
  private writeOut(): void {
    if (this.buffered === 0) return;
    const start = this.blobs[this.firstBuffered]!.offset;
    if (this.type === 'tree') {
      const expected = this.payloadIDs;
      this.payloadIDs = [];
      try {
        this.blobs.slice(this.firstBuffered).forEach((b, i) => {
          if (hashID(open(this.key, this.buf.subarray(b.offset - start, b.offset - start + b.length))) !== expected[i]) {
            throw new CorruptError(`tree blob ${b.id.slice(0, 8)} did not read back as written; nothing was uploaded`);
          }
        });
      } catch (err) {
        this.discard();
        throw err;
      }
    }
    this.append(this.buf.subarray(0, this.buffered));
    this.buffered = 0;
    this.firstBuffered = this.blobs.length;
  }

  private append(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; ) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.hash!.update(bytes);
  }

  /**
   * Append the header and close the file. The header is read back first: it must describe exactly
   * the blobs added, or nothing is uploaded. The builder starts its next pack in a new file.
   */
  finish(): FinishedPack {
    this.writeOut();
    const trailer = packTrailer(this.key, this.blobs);
    const size = this.used + trailer.length;
    const header = parseTrailer(this.key, trailer, size);
    const same = Array.isArray(header) && header.length === this.blobs.length &&
      header.every((h, i) => { const b = this.blobs[i]!; return h.id === b.id && h.type === b.type && h.offset === b.offset && h.length === b.length && h.uncompressedLength === b.uncompressedLength; });
    if (!same) {
      this.discard();
      throw new CorruptError('a pack header did not read back as written; nothing was uploaded');
    }
    this.append(trailer);
    closeSync(this.fd);
    const pack = { id: this.hash!.digest('hex'), file: this.file, size, blobs: this.blobs.splice(0) };
    this.reset();
    return pack;
  }

  /** Drop the pack being assembled and its file. */
  discard(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      rmSync(this.file, { force: true });
    }
    this.blobs.length = 0;
    this.payloadIDs = [];
    this.reset();
  }

  private reset(): void {
    this.fd = -1;
    this.file = '';
    this.hash = undefined;
    this.used = 0;
    this.buffered = 0;
    this.firstBuffered = 0;
    // The write buffer is kept only at its usual size: one very large blob should not pin its size.
    if (this.buf.length > writeBuffer) this.buf = Buffer.allocUnsafe(0);
  }
}
