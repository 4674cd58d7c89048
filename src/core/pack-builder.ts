/** Assembles one pack file in a single preallocated buffer: blobs are encrypted straight into it. */
import { compress } from './compress.js';
import { extension, sealInto, type MasterKey } from './crypto.js';
import { hashID, type ID } from './hash.js';
import { decodeBlob } from './blob.js';
import { CorruptError } from './errors.js';
import { packTrailer, parseTrailer, type BlobType, type PackedBlob } from './pack.js';

/** restic's default target pack size. */
export const defaultPackSize = 16 * 1024 * 1024;

/** Room kept for the header: 41 bytes per blob plus encryption, far below this for any pack. */
const trailerSlack = 256 * 1024;

export interface FinishedPack {
  id: ID;
  data: Buffer;
  blobs: PackedBlob[];
}

export class PackBuilder {
  private buf: Buffer;
  private used = 0;
  readonly blobs: PackedBlob[] = [];

  /**
   * `alloc` supplies the buffer a pack is assembled in (at least the size asked for): a chunk worker
   * hands out buffers that came back from finished uploads instead of allocating new ones.
   */
  constructor(
    private readonly key: MasterKey,
    readonly type: BlobType,
    private readonly target = defaultPackSize,
    private readonly alloc: (size: number) => Buffer = Buffer.allocUnsafe,
  ) {
    this.buf = Buffer.allocUnsafe(0);
  }

  get size(): number {
    return this.used;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** True when no further blob of useful size fits. */
  get full(): boolean {
    return this.used + 64 * 1024 >= this.target;
  }

  /**
   * Add a blob. Returns false, adding nothing, if the pack already holds blobs and this one would
   * take it past its target size: finish the pack and add it to the next. (Packs stay within one
   * buffer of the target size, allocated once; a blob larger than that gets a pack of its own.)
   */
  add(id: ID, plain: Uint8Array, tryCompress: boolean): boolean {
    let payload = plain;
    let uncompressedLength: number | undefined;
    if (tryCompress) {
      const z = compress(plain);
      if (z.length < plain.length) {
        payload = z;
        uncompressedLength = plain.length;
      }
    }
    const need = payload.length + extension;
    if (this.used > 0 && this.used + need + trailerSlack > this.target) return false;
    if (this.used + need + trailerSlack > this.buf.length) this.grow(need + trailerSlack);
    const length = sealInto(this.key, payload, this.buf, this.used);
    this.blobs.push({ type: this.type, id, offset: this.used, length, uncompressedLength });
    this.used += length;
    return true;
  }

  private grow(need: number): void {
    const next = this.alloc(Math.max(this.target, this.used + need));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  /**
   * Read the finished pack back before it is uploaded: its header must describe exactly the blobs
   * added, and tree blobs (small, and the ones a snapshot cannot live without) must decrypt to their
   * IDs. Data blobs are checked by their MACs and IDs on every read and by `check --read-data`; a
   * full read-back of all data here would cost about a third of a backup's CPU.
   */
  private verify(data: Buffer): void {
    const header = parseTrailer(this.key, data, data.length);
    const same = Array.isArray(header) && header.length === this.blobs.length &&
      header.every((h, i) => { const b = this.blobs[i]!; return h.id === b.id && h.type === b.type && h.offset === b.offset && h.length === b.length && h.uncompressedLength === b.uncompressedLength; });
    if (!same) throw new CorruptError('a pack did not read back as written; nothing was uploaded');
    if (this.type === 'tree') for (const b of this.blobs) decodeBlob(this.key, b.id, data.subarray(b.offset, b.offset + b.length), b.uncompressedLength);
  }

  /**
   * Append the header and return the pack. The pack is a view of the builder's buffer, which goes
   * with it: the builder starts the next pack in a new one.
   */
  finish(): FinishedPack {
    const trailer = packTrailer(this.key, this.blobs);
    if (this.used + trailer.length > this.buf.length) this.grow(trailer.length);
    trailer.copy(this.buf, this.used);
    const data = this.buf.subarray(0, this.used + trailer.length);
    this.verify(data);
    const pack = { id: hashID(data), data, blobs: this.blobs.splice(0) };
    this.buf = Buffer.allocUnsafe(0);
    this.used = 0;
    return pack;
  }
}
