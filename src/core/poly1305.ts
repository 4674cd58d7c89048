/**
 * Poly1305 in WebAssembly (poly1305.wat, compiled by the build), in every thread where the native
 * addon was not built (see crypto.ts).
 * Node has no raw Poly1305 and noble's JavaScript one runs at ~0.45 GB/s (0.2 on a 2.1 GHz Xeon).
 * This replaced libsodium's wasm build (~1.4 GB/s here), a 1.5 MB package that each thread had to
 * load and instantiate: a worker that loaded it and authenticated 64 MiB grew the process by 26.6
 * MiB in 226-258 ms, a bare worker by 9.8 MiB in 70 ms. Measured on whole runs (1.92 GiB library,
 * A/B alternating): check --read-data peak 192 -> 182 MiB and wall 3.61 -> 3.49 s, first backup of
 * 58,833 files peak 184 -> 177 MiB; restore unchanged. Since it takes two blocks at a time in SIMD
 * lanes (see the .wat) it runs at ~2.05 GB/s instead of 1.37: restore of 1.92 GiB 3.32 -> 2.98 s,
 * check --read-data 3.81 -> 3.51 s, first backup 5.49 -> 5.09 s. This module is ~3.4 KiB of code
 * with 128 KiB of memory. Tests hold it to RFC 8439's vectors and to noble's.
 */
import { instantiate } from './wasm.js';

const keyAt = 0;
const tagAt = 64;
const pieceAt = 65536;
/** Bytes authenticated per call into the module: its memory holds one piece. */
const piece = 65536;

interface Exports {
  memory: WebAssembly.Memory;
  init(): void;
  blocks(at: number, length: number, final: number): void;
  finish(): void;
}

let instance: { x: Exports; bytes: Uint8Array } | undefined;

function module(): { x: Exports; bytes: Uint8Array } {
  if (!instance) {
    const x = instantiate<Exports>('poly1305.wasm');
    instance = { x, bytes: new Uint8Array(x.memory.buffer) };
  }
  return instance;
}

/** Load the module in this thread now (a worker does, before its first blob). */
export function loadPoly1305(): void {
  module();
}

/** The Poly1305 tag of `msg` under the 32-byte one-time key `key` (r ‖ s). */
export function poly1305Wasm(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const { x, bytes } = module();
  bytes.set(key.subarray(0, 32), keyAt);
  x.init();
  const whole = msg.length - (msg.length % 16);
  for (let off = 0; off < whole; off += piece) {
    const n = Math.min(piece, whole - off);
    bytes.set(msg.subarray(off, off + n), pieceAt);
    x.blocks(pieceAt, n, 0);
  }
  if (whole < msg.length) {
    // The last, short block: its bytes, then 0x01, then zeros up to 16.
    const rest = msg.length - whole;
    bytes.fill(0, pieceAt, pieceAt + 16);
    bytes.set(msg.subarray(whole), pieceAt);
    bytes[pieceAt + rest] = 1;
    x.blocks(pieceAt, 16, 1);
  }
  x.finish();
  return bytes.slice(tagAt, tagAt + 16);
}
