/** Assembles one pack file in a single preallocated buffer: blobs are encrypted straight into it. */
import { compress } from './compress.js';
import { extension, sealInto, type MasterKey } from './crypto.js';
import { hashID, type ID } from './hash.js';
import { packTrailer, type BlobType, type PackedBlob } from './pack.js';

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

  constructor(private readonly key: MasterKey, readonly type: BlobType, private readonly target = defaultPackSize) {
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
    const next = Buffer.allocUnsafe(Math.max(this.target, this.used + need));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  /**
   * Append the header and return the pack; the builder is empty again afterwards. With `keepBuffer`
   * the pack is copied out and the builder's buffer reused (a worker sends packs away); otherwise the
   * pack is the buffer itself.
   */
  finish(keepBuffer = false): FinishedPack {
    const trailer = packTrailer(this.key, this.blobs);
    if (this.used + trailer.length > this.buf.length) this.grow(trailer.length);
    trailer.copy(this.buf, this.used);
    const inPlace = this.buf.subarray(0, this.used + trailer.length);
    const data = keepBuffer ? Buffer.from(inPlace) : inPlace;
    const pack = { id: hashID(data), data, blobs: this.blobs.splice(0) };
    if (!keepBuffer) this.buf = Buffer.allocUnsafe(0);
    this.used = 0;
    return pack;
  }
}
