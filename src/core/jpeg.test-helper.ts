/** Synthetic JPEGs for tests: the segment structure the metadata cut reads, with any payload. */
import { randomBytes } from 'node:crypto';

export const SOI = Buffer.from([0xff, 0xd8]);

/** One segment: marker 0xFFnn, its 16-bit length, the body. */
export function segment(marker: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(0xff00 | marker, 0);
  h.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([h, body]);
}

/** Random "image" bytes after the metadata: a quantisation table, then `blocks` APP15 segments of 60,000 random bytes, then EOI. */
export function jpegImage(blocks: number): Buffer {
  return Buffer.concat([segment(0xdb, randomBytes(130)), ...Array.from({ length: blocks }, () => segment(0xef, randomBytes(60_000))), Buffer.from([0xff, 0xd9])]);
}

/** A photo: SOI, an EXIF segment with this body, then the image. */
export function jpeg(exif: Buffer, image: Buffer): Buffer {
  return Buffer.concat([SOI, segment(0xe1, exif), image]);
}
