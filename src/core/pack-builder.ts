/** Assembles one pack file in a single preallocated buffer: blobs are encrypted straight into it. */
import { compress } from './compress.js';
import { extension, sealInto, type MasterKey } from './crypto.js';
import { hashID, type ID } from './hash.js';
import { packTrailer, type BlobType, type PackedBlob } from './pack.js';

/** restic's default target pack size. */
export const defaultPackSize = 16 * 1024 * 1024;

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

  /** True when the pack has reached its target size and should be finished. */
  get full(): boolean {
    return this.used >= this.target;
  }

  add(id: ID, plain: Uint8Array, tryCompress: boolean): void {
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
    if (this.used + need > this.buf.length) this.grow(need);
    const length = sealInto(this.key, payload, this.buf, this.used);
    this.blobs.push({ type: this.type, id, offset: this.used, length, uncompressedLength });
    this.used += length;
  }

  private grow(need: number): void {
    const capacity = Math.max(this.target + 9 * 1024 * 1024, this.used + need, this.buf.length * 2);
    const next = Buffer.allocUnsafe(capacity);
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  /** Append the header and return the pack; the builder is empty again afterwards. */
  finish(): FinishedPack {
    const trailer = packTrailer(this.key, this.blobs);
    if (this.used + trailer.length > this.buf.length) this.grow(trailer.length);
    trailer.copy(this.buf, this.used);
    const data = this.buf.subarray(0, this.used + trailer.length);
    const pack = { id: hashID(data), data, blobs: this.blobs.splice(0) };
    this.buf = Buffer.allocUnsafe(0);
    this.used = 0;
    return pack;
  }
}
