/**
 * Where a JPEG's editable metadata ends. Photo organizers rewrite EXIF, XMP and IPTC (APP1 and APP13
 * segments at the start of the file) all the time; the image data after them never changes. restic's
 * first chunk of a photo is at least 512 KiB, so every such edit stores it again. Cutting the first
 * chunk once more, where this metadata ends, makes an edit cost the metadata's few kilobytes; every
 * other cut stays where restic's chunker puts it (the extra cut falls inside the first chunk, whose
 * first 512 KiB the chunker never looks at), so files deduplicate against restic's chunks from the
 * second chunk on.
 *
 * Hand-written: a walk over segment headers, a dozen lines; no JPEG library parses only this.
 */
import { minSize } from './chunker.js';

/**
 * Where a file's first chunk is cut once more, given the file's size and its first bytes (at least
 * what a first read returns): the end of a JPEG's metadata, for files larger than a minimum-size
 * chunk and metadata well inside it; 0 for no extra cut. The one rule for backups and for
 * anything that predicts a file's blobs.
 */
export function firstChunkCut(size: number, head: Uint8Array): number {
  return size > minSize ? jpegMetadataEnd(head, minSize - 4096) : 0;
}

/**
 * The offset just past the last APP1 (EXIF, XMP) or APP13 (IPTC) segment among the APPn segments
 * that open the file, looking no further than `limit`; 0 if there is none or this is not a JPEG.
 */
export function jpegMetadataEnd(b: Uint8Array, limit = b.length): number {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return 0;
  const stop = Math.min(limit, b.length);
  let pos = 2;
  let end = 0;
  while (pos + 4 <= stop) {
    const marker = b[pos + 1]!;
    // The first segment that is not APP0-APP15 (quantisation tables, frame header, ...) ends the metadata.
    if (b[pos] !== 0xff || marker < 0xe0 || marker > 0xef) break;
    const length = (b[pos + 2]! << 8) | b[pos + 3]!;
    if (length < 2) break;
    pos += 2 + length;
    if (pos > stop) break;
    if (marker === 0xe1 || marker === 0xed) end = pos;
  }
  return end;
}
