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

/**
 * Input larger than this is compressed as a sequence of frames of this size (zstd's format allows
 * any number of frames one after another, and restic's decoder, fzstd and decompress() here read
 * them all). The WebAssembly heap holds an input, its output and the compressor's tables at once,
 * and it never shrinks: one folder of 14,000 photos (a 5 MB tree) grew it by ~20 MiB in one call.
 * In frames it stays near 1.5 MiB whatever the size; the ratio hardly moves (tree and index JSON
 * repeats itself within far less than a frame).
 */
export const frameMax = 256 * 1024;

/** `data` in the pieces compress() makes its frames of (itself when it is small). */
export function framePieces(data: Uint8Array): Uint8Array[] {
  if (data.length <= frameMax) return [data];
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += frameMax) pieces.push(data.subarray(at, at + frameMax));
  return pieces;
}

export function compress(data: Uint8Array, level = 3): Uint8Array {
  const z = wasm;
  if (!z) throw new Error('zstd is not loaded: await loadZstd() first');
  const frames = framePieces(data).map((piece) => z.compress(piece, level));
  return frames.length === 1 ? frames[0]! : Buffer.concat(frames);
}

/**
 * zstd run somewhere else (a backup's chunk worker: its WebAssembly heap never shrinks, and on the
 * main thread it stayed resident for the whole backup); undefined when nowhere else can.
 */
export type Compressor = (plain: Uint8Array) => Promise<Uint8Array> | undefined;

/**
 * zstd through `elsewhere` when it takes the work, else on this thread; either way the result is
 * read back (compressChecked). For the metadata a snapshot cannot live without.
 */
export async function compressWith(elsewhere: Compressor | undefined, plain: Uint8Array): Promise<Uint8Array> {
  const z = elsewhere?.(plain);
  if (z) return z;
  await loadZstd();
  return compressChecked(plain);
}

/**
 * compress(), then decompressed and compared: a fault in memory or in the encoder must not reach a
 * repository as a tree or an index nobody can read. Where it was compressed, the WebAssembly
 * decoder is at hand; whoever stores the result then only checks that the bytes it encrypted are
 * these (see PackBuilder, Repository.sealUnpacked).
 */
export function compressChecked(plain: Uint8Array): Uint8Array {
  const z = compress(plain);
  if (Buffer.compare(decompress(z, plain.length), plain) !== 0) {
    throw new CorruptError('zstd: compressed data did not read back as written; nothing was stored');
  }
  return z;
}

export function decompress(data: Uint8Array, expectedLength?: number): Uint8Array {
  let out: Uint8Array;
  try {
    if (!wasm) throw new Error('not loaded');
    out = wasmDecompress(wasm, data);
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

/**
 * The WebAssembly decoder sizes its output from the first frame's header, so a sequence of frames
 * (see frameMax) is decoded frame by frame, which also keeps its heap as small as the frames.
 */
function wasmDecompress(z: ZstdWasm, data: Uint8Array): Uint8Array {
  if (frameEnd(data, 0) === data.length) return z.decompress(data);
  const frames: Uint8Array[] = [];
  for (let at = 0; at < data.length;) {
    const end = frameEnd(data, at);
    frames.push(z.decompress(data.subarray(at, end)));
    at = end;
  }
  return Buffer.concat(frames);
}

const frameMagic = 0xfd2fb528;

/**
 * Where the zstd frame starting at `at` ends (RFC 8878, section 3.1.1: the header's fields, then
 * blocks up to the last one, then the optional checksum). Throws on anything else, skippable frames
 * included (nothing here writes them; fzstd then has the last word).
 */
export function frameEnd(data: Uint8Array, at: number): number {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const need = (n: number) => {
    if (at + n > data.length) throw new Error('zstd: truncated frame');
  };
  need(5);
  if (dv.getUint32(at, true) !== frameMagic) throw new Error('zstd: not a frame');
  const fhd = data[at + 4]!;
  const singleSegment = (fhd >> 5) & 1;
  const fcsBytes = [singleSegment, 2, 4, 8][fhd >> 6]!;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  at += 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
  for (;;) {
    need(3);
    const h = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16);
    const type = (h >> 1) & 3;
    if (type === 3) throw new Error('zstd: reserved block type');
    at += 3 + (type === 1 ? 1 : h >>> 3);
    if (h & 1) break;
  }
  if ((fhd >> 2) & 1) at += 4;
  need(0);
  return at;
}
