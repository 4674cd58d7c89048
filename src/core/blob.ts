/** Decoding one stored blob: MAC check, decryption, decompression, and the check of its ID. */
import { decompress } from './compress.js';
import { extension, open, type MasterKey } from './crypto.js';
import { CorruptError } from './errors.js';
import { hashID, type ID } from './hash.js';

/** With `scratch`, an uncompressed blob's plaintext is a view of it (see open). */
export function decodeBlob(key: MasterKey, id: ID, raw: Uint8Array, uncompressedLength: number | undefined, scratch?: Buffer): Buffer {
  let plain = open(key, raw, uncompressedLength === undefined ? scratch : undefined);
  if (uncompressedLength !== undefined) plain = Buffer.from(decompress(plain, uncompressedLength));
  if (hashID(plain) !== id) throw new CorruptError(`blob ${id.slice(0, 8)}: content does not match its ID`);
  return plain;
}

/** The plaintext length of a stored blob, from its index entry. */
export function plainLength(b: { length: number; uncompressedLength?: number }): number {
  return b.uncompressedLength ?? b.length - extension;
}
