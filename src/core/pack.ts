/**
 * Pack files: encrypted blobs back to back, then the encrypted header listing them, then the
 * header's length as uint32le. Header entries are 37 bytes (type 0 data, 1 tree) or 41 bytes for
 * compressed blobs (type 2 data, 3 tree, with the plaintext length).
 */
import { extension, open, seal, type MasterKey } from './crypto.js';
import { CorruptError } from './errors.js';
import { type ID } from './hash.js';

export type BlobType = 'data' | 'tree';

export interface PackedBlob {
  type: BlobType;
  id: ID;
  offset: number;
  /** Encrypted length in the pack. */
  length: number;
  /** Plaintext length before compression, for compressed blobs only. */
  uncompressedLength?: number;
}

const plainEntry = 37;
const compressedEntry = 41;

export function encodeHeader(blobs: readonly PackedBlob[]): Buffer {
  let size = 0;
  for (const b of blobs) size += b.uncompressedLength === undefined ? plainEntry : compressedEntry;
  const h = Buffer.allocUnsafe(size);
  let o = 0;
  for (const b of blobs) {
    const compressed = b.uncompressedLength !== undefined;
    h[o++] = (b.type === 'data' ? 0 : 1) + (compressed ? 2 : 0);
    h.writeUInt32LE(b.length, o);
    o += 4;
    if (compressed) {
      h.writeUInt32LE(b.uncompressedLength!, o);
      o += 4;
    }
    h.write(b.id, o, 32, 'hex');
    o += 32;
  }
  return h;
}

export function decodeHeader(h: Uint8Array): PackedBlob[] {
  const buf = Buffer.from(h.buffer, h.byteOffset, h.byteLength);
  const out: PackedBlob[] = [];
  let o = 0;
  let offset = 0;
  while (o < buf.length) {
    const t = buf[o]!;
    if (t > 3) throw new CorruptError(`pack header: unknown blob type ${t}`);
    const compressed = t >= 2;
    if (o + (compressed ? compressedEntry : plainEntry) > buf.length) throw new CorruptError('pack header: truncated entry');
    const length = buf.readUInt32LE(o + 1);
    const b: PackedBlob = { type: t % 2 === 0 ? 'data' : 'tree', id: '', offset, length };
    o += 5;
    if (compressed) {
      b.uncompressedLength = buf.readUInt32LE(o);
      o += 4;
    }
    b.id = buf.toString('hex', o, o + 32);
    o += 32;
    if (length < extension) throw new CorruptError(`pack header: blob ${b.id.slice(0, 8)} is shorter than its encryption overhead`);
    offset += length;
    out.push(b);
  }
  return out;
}

/** Build the trailer of a pack from its blob list: encrypted header ‖ uint32le length. */
export function packTrailer(key: MasterKey, blobs: readonly PackedBlob[]): Buffer {
  const enc = seal(key, encodeHeader(blobs));
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32LE(enc.length, 0);
  return Buffer.concat([enc, len]);
}

/** How many bytes from the end of a pack to read to usually get the whole header in one go. */
export const headerReadAhead = 64 * 1024;

/**
 * Parse the header from the last bytes of a pack (`tail` = the final `tail.length` bytes of a file of
 * `packSize` bytes). Returns the blobs, or `{ need }` if the header is longer than `tail`.
 */
export function parseTrailer(key: MasterKey, tail: Uint8Array, packSize: number): PackedBlob[] | { need: number } {
  if (packSize < 4 + extension) throw new CorruptError(`pack of ${packSize} bytes is too short to hold a header`);
  const t = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  const hlen = t.readUInt32LE(t.length - 4);
  if (hlen + 4 > packSize || hlen < extension) throw new CorruptError(`pack header length ${hlen} does not fit a pack of ${packSize} bytes`);
  if (hlen + 4 > t.length) return { need: hlen + 4 };
  const blobs = decodeHeader(open(key, t.subarray(t.length - 4 - hlen, t.length - 4)));
  const end = blobs.reduce((s, b) => s + b.length, 0);
  if (end + hlen + 4 !== packSize) throw new CorruptError(`pack header describes ${end} bytes of blobs, the pack holds ${packSize - hlen - 4}`);
  return blobs;
}
