/**
 * restic's authenticated encryption: AES-256-CTR, then Poly1305-AES over the ciphertext.
 *
 * Stored form: IV (16 random bytes, the whole big-endian counter block) ‖ ciphertext ‖ MAC (16).
 * The Poly1305 one-time key is `r ‖ AES-128_k(IV)`. Three implementations, the same bytes (tests
 * hold each to the paper's vectors and to the others); each thread takes the first that loads, at
 * its first MAC:
 *
 * - 'native': the project's Node-API addon (crypto-native.c, built by `npm run build`), which calls
 *   the OpenSSL inside Node for both AES and Poly1305 and works in place. MAC check plus decryption
 *   of 1 MiB blobs: 3.0 GB/s against 0.92-1.1 for the next, on a 2.1 GHz Xeon.
 * - 'webassembly': Node's AES (OpenSSL, AES-NI) and the project's WebAssembly Poly1305
 *   (poly1305.ts), where the addon was not built. Node has no raw Poly1305.
 * - 'noble': Node's AES and noble's Poly1305 (@noble/ciphers, audited, plain JavaScript), where
 *   WebAssembly SIMD is missing too; 5-7x slower than the WebAssembly one.
 *
 * KEEPSAKE_NATIVE_CRYPTO=0 in the environment leaves the addon out (to compare, or should it
 * misbehave). Randomness is Node's.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { CorruptError } from './errors.js';
import { loadPoly1305, poly1305Wasm } from './poly1305.js';
import { projectAddon } from '../util/addon.js';
import { collectAfter } from '../util/heap-settings.js';

export type CryptoImplementation = 'native' | 'webassembly' | 'noble';

/** The addon's functions (see crypto-native.c). */
interface Native {
  keys(encrypt: Uint8Array, macK: Uint8Array, macR: Uint8Array): object;
  mac(keys: object, iv: Uint8Array, msg: Uint8Array, tag: Uint8Array): void;
  open(keys: object, sealed: Uint8Array, out: Uint8Array): boolean;
  seal(keys: object, out: Uint8Array, offset: number, plain: Uint8Array): void;
  romix(lanes: Uint8Array, N: number, r: number): Promise<void>;
}

/** This thread's implementation; undefined until its first MAC (or chooseCrypto). */
let chosen: CryptoImplementation | undefined;
let native: Native | undefined;

/**
 * Choose this thread's implementation now rather than at its first MAC (a worker does, before its
 * first blob), and say which.
 */
export function chooseCrypto(): CryptoImplementation {
  if (chosen) return chosen;
  native = projectAddon<Native>();
  if (native) return (chosen = 'native');
  try {
    loadPoly1305();
    chosen = 'webassembly';
  } catch {
    chosen = 'noble';
  }
  return chosen;
}

/**
 * The addon's scrypt ROMix (each 128·r-byte lane of `lanes` in place, on a thread of libuv's pool,
 * with half of V's memory: see crypto-native.c), where the addon is what this thread uses.
 */
export function nativeRomix(): ((lanes: Uint8Array, N: number, r: number) => Promise<void>) | undefined {
  return chooseCrypto() === 'native' ? native!.romix : undefined;
}

/** Which implementation this thread uses; undefined before its first MAC (or chooseCrypto). */
export function cryptoImplementation(): CryptoImplementation | undefined {
  return chosen;
}

export const ivSize = 16;
export const macSize = 16;
export const extension = ivSize + macSize;

export interface MasterKey {
  /** AES-256 key for the payload. */
  readonly encrypt: Uint8Array;
  /** AES-128 key that turns the IV into Poly1305's `s`. */
  readonly macK: Uint8Array;
  /** Poly1305's `r` (clamped by Poly1305 itself). */
  readonly macR: Uint8Array;
}

export function randomKey(): MasterKey {
  const macR = randomBytes(16);
  maskR(macR);
  return { encrypt: randomBytes(32), macK: randomBytes(16), macR };
}

/** Clear the bits Poly1305 ignores, as restic stores `r`. */
export function maskR(r: Uint8Array): void {
  for (const i of [3, 7, 11, 15]) r[i]! &= 15;
  for (const i of [4, 8, 12]) r[i]! &= 252;
}

/**
 * Node's cipher returns a new buffer per update; fed 32 KiB at a time, those come from the thread's
 * malloc arena and are reused at once, where 1 MiB ones cost fresh pages on every call (measured:
 * AES-256-CTR plus the copy out, 2.3 GB/s in 1 MiB pieces, 4.0-4.4 GB/s in 32 KiB ones).
 */
const aesPiece = 32 * 1024;

/** AES-256-CTR of `input` into `out` at `offset`, without large temporary buffers. */
function ctrInto(cipher: ReturnType<typeof createCipheriv>, input: Uint8Array, out: Uint8Array, offset: number): void {
  for (let off = 0; off < input.length; off += aesPiece) out.set(cipher.update(input.subarray(off, off + aesPiece)), offset + off);
  collectAfter(input.length);
}

/**
 * One AES-128-ECB context per MAC key, reused: ECB keeps no state between blocks, and a context per
 * blob meant native memory (OpenSSL's) freed only when the garbage collector got to its wrapper.
 */
const ecbs = new WeakMap<Uint8Array, ReturnType<typeof createCipheriv>>();

/**
 * The addon's contexts for a key, per thread, made at its first use (freed with the key). By the
 * key itself: they hold all three of its parts.
 */
const nativeKeys = new WeakMap<MasterKey, object>();

function nativeKeysOf(key: MasterKey): object {
  let k = nativeKeys.get(key);
  if (!k) {
    k = native!.keys(key.encrypt, key.macK, key.macR);
    nativeKeys.set(key, k);
  }
  return k;
}

export function poly1305Aes(key: MasterKey, iv: Uint8Array, msg: Uint8Array): Uint8Array {
  if (chooseCrypto() === 'native') {
    const tag = new Uint8Array(16);
    native!.mac(nativeKeysOf(key), iv, msg, tag);
    return tag;
  }
  let ecb = ecbs.get(key.macK);
  if (!ecb) {
    ecb = createCipheriv('aes-128-ecb', key.macK, null);
    ecb.setAutoPadding(false);
    ecbs.set(key.macK, ecb);
  }
  const s = ecb.update(iv);
  const oneTime = new Uint8Array(32);
  oneTime.set(key.macR, 0);
  oneTime.set(s, 16);
  return chosen === 'webassembly' ? poly1305Wasm(oneTime, msg) : poly1305(msg, oneTime);
}

/** Encrypt `plain` into a new buffer IV ‖ ciphertext ‖ MAC. */
export function seal(key: MasterKey, plain: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(plain.length + extension);
  sealInto(key, plain, out, 0);
  return out;
}

/**
 * IVs are taken from a pool of random bytes refilled 4 KiB at a time, each used once. A call of
 * randomBytes(16) costs ~5 µs here (the call, not the randomness: a 4 KiB fill costs the same per
 * call), and a backup of 58,833 small files in 30,426 folders seals ~150,000 blobs: ~0.75 s of CPU.
 * (Node caches randomness for randomUUID the same way.)
 */
const ivPool = Buffer.allocUnsafe(4096);
let ivPoolAt = ivPool.length;

/** Encrypt `plain` into `out` at `offset`; writes plain.length + 32 bytes. */
export function sealInto(key: MasterKey, plain: Uint8Array, out: Buffer, offset: number): number {
  if (ivPoolAt === ivPool.length) {
    randomFillSync(ivPool);
    ivPoolAt = 0;
  }
  ivPool.copy(out, offset, ivPoolAt, ivPoolAt + ivSize);
  ivPoolAt += ivSize;
  if (chooseCrypto() === 'native') {
    native!.seal(nativeKeysOf(key), out, offset, plain);
    return plain.length + extension;
  }
  const iv = out.subarray(offset, offset + ivSize);
  const start = offset + ivSize;
  ctrInto(createCipheriv('aes-256-ctr', key.encrypt, iv), plain, out, start);
  const mac = poly1305Aes(key, iv, out.subarray(start, start + plain.length));
  out.set(mac, start + plain.length);
  return plain.length + extension;
}

const macMismatch = () => new CorruptError('ciphertext verification failed (MAC mismatch)');

/**
 * Check the MAC, then decrypt. Throws CorruptError if the MAC does not match. With `scratch` (large
 * enough), the plaintext is written there and a view of it returned: a worker decoding blob after
 * blob reuses one buffer instead of allocating each blob's plaintext anew.
 */
export function open(key: MasterKey, sealed: Uint8Array, scratch?: Buffer): Buffer {
  if (sealed.length < extension) throw new CorruptError(`encrypted object too short (${sealed.length} bytes)`);
  const iv = sealed.subarray(0, ivSize);
  const ct = sealed.subarray(ivSize, sealed.length - macSize);
  const mac = sealed.subarray(sealed.length - macSize);
  if (iv.every((b) => b === 0)) throw new CorruptError('encrypted object has an all-zero IV');
  const out = scratch && scratch.length >= ct.length ? scratch.subarray(0, ct.length) : Buffer.allocUnsafe(ct.length);
  if (chooseCrypto() === 'native') {
    if (!native!.open(nativeKeysOf(key), sealed, out)) throw macMismatch();
    return out;
  }
  const want = poly1305Aes(key, iv, ct);
  if (!timingSafeEqual(want, mac)) throw macMismatch();
  ctrInto(createDecipheriv('aes-256-ctr', key.encrypt, iv), ct, out, 0);
  return out;
}
