import assert from 'node:assert/strict';
import { it } from 'node:test';
import { bytes, count, duration } from './format.js';

it('formats counts with thousands separators, sizes in binary units, durations as clock time', () => {
  assert.deepEqual([0, 7, 999, 1000, 58833, 1234567, -1234567, 12345.5].map(count),
    ['0', '7', '999', '1,000', '58,833', '1,234,567', '-1,234,567', '12,345.5']);
  assert.deepEqual([0, 1023, 1024, 5 * 1024 * 1024 + 1024 * 512, 3 * 2 ** 40].map(bytes), ['0 B', '1023 B', '1.00 KiB', '5.50 MiB', '3.00 TiB']);
  assert.deepEqual([0, 59.6, 61, 3600 + 62, Infinity].map(duration), ['0:00', '1:00', '1:01', '1:01:02', '?']);
});
