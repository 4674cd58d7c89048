/**
 * zstd for restic v2 repositories. Node 20 has no zstd in zlib, so this uses the zstd library
 * compiled to wasm (@bokuweb/zstd-wasm): no native build, no binary download. It costs a thread
 * ~7 MiB once loaded, so it is loaded only where something is compressed or much is decompressed
 * (loadZstd); until then, and for frames its decoder refuses (streaming encoders may leave out the
 * content size), fzstd decodes: a small pure-JS decoder that handles every frame.
 */
import { decompress as fzDecompress } from 'fzstd';
import { CorruptError } from './errors.js';

type ZstdWasm = typeof import('@bokuweb/zstd-wasm');

let wasm: ZstdWasm | undefined;
let loading: Promise<void> | undefined;

/**
 * Payloads smaller than this are stored as they are: a small snapshot, lock or tree gains a few
 * hundred bytes from compression, and a backup of an unchanged library then never loads zstd.
 */
export const compressMin = 512;

/** Load the WebAssembly zstd: needed before compress(), and it makes decompress() fast. */
export function loadZstd(): Promise<void> {
  return (loading ??= (async () => {
    const m = await import('@bokuweb/zstd-wasm');
    await m.init();
    wasm = m;
  })());
}

export function compress(data: Uint8Array, level = 3): Uint8Array {
  if (!wasm) throw new Error('zstd is not loaded: await loadZstd() first');
  return wasm.compress(data, level);
}

export function decompress(data: Uint8Array, expectedLength?: number): Uint8Array {
  let out: Uint8Array;
  try {
    if (!wasm) throw new Error('not loaded');
    out = wasm.decompress(data);
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
