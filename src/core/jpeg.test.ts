import assert from 'node:assert/strict';
import { it } from 'node:test';
import { jpegMetadataEnd } from './jpeg.js';
import { SOI, segment } from './jpeg.test-helper.js';

const seg = (marker: number, size: number) => segment(marker, Buffer.alloc(size, 0x5a));

it('finds the end of the leading EXIF/XMP/IPTC segments of a JPEG, and nothing elsewhere', () => {
  const exif = seg(0xe1, 300);
  const jpeg = Buffer.concat([SOI, seg(0xe0, 14), exif, seg(0xe1, 500), seg(0xe2, 1000), seg(0xed, 40), seg(0xdb, 64), seg(0xe1, 10)]);
  // Through APP13; the APP1 after the quantisation table does not count.
  assert.equal(jpegMetadataEnd(jpeg), 2 + 18 + 304 + 504 + 1004 + 44);
  // Only what fits below the limit counts.
  assert.equal(jpegMetadataEnd(jpeg, 2 + 18 + 304 + 504 + 10), 2 + 18 + 304 + 504);
  assert.equal(jpegMetadataEnd(Buffer.concat([SOI, seg(0xe0, 14), seg(0xdb, 64)])), 0, 'no EXIF');
  assert.equal(jpegMetadataEnd(Buffer.from('not a jpeg at all')), 0);
  assert.equal(jpegMetadataEnd(Buffer.concat([SOI, Buffer.from([0xff, 0xe1, 0x00, 0x01])])), 0, 'bad length');
  assert.equal(jpegMetadataEnd(Buffer.concat([SOI, exif.subarray(0, 100)])), 0, 'cut off');
});
