/**
 * zstd for restic v2 repositories. Node 20 has no zstd in zlib, so this uses the zstd library
 * compiled to wasm (@bokuweb/zstd-wasm): no native build, no binary download. Its decoder needs the
 * frame content size in the header; frames written by streaming encoders may omit it, so those fall
 * back to fzstd, a pure-JS decoder that handles every frame.
 */
import { compress as zCompress, decompress as zDecompress, init } from '@bokuweb/zstd-wasm';
import { decompress as fzDecompress } from 'fzstd';
import { CorruptError } from './errors.js';

await init();

export function compress(data: Uint8Array, level = 3): Uint8Array {
  return zCompress(data, level);
}

export function decompress(data: Uint8Array, expectedLength?: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = zDecompress(data);
  } catch {
    try {
      out = fzDecompress(data);
    } catch (err) {
      throw new CorruptError(`zstd: ${(err as Error).message}`);
    }
  }
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new CorruptError(`zstd: decompressed ${out.length} bytes, expected ${expectedLength}`);
  }
  return out;
}
