/**
 * restic's content-defined chunker: a Rabin fingerprint over a 64-byte sliding window, modulo the
 * repository's degree-53 irreducible polynomial. A chunk ends where the low 20 bits of the digest are
 * zero (average 1 MiB), never before 512 KiB and always by 8 MiB. The first min−64 bytes of a chunk
 * are skipped unhashed, and the window restarts at every cut with a single 0x01 byte, exactly as
 * restic does, so both tools cut the same file at the same places and share its blobs.
 *
 * The 53-bit digest is kept as two int32 halves (hi: bits 32–52, lo: bits 0–31): JS bit operators are
 * 32-bit, and bigint would be ~50× slower in this loop.
 */
import { degree, mod } from './polynomial.js';

export const minSize = 512 * 1024;
export const maxSize = 8 * 1024 * 1024;
const windowSize = 64;
const splitMask = (1 << 20) - 1;

export interface Tables {
  outHi: Int32Array;
  outLo: Int32Array;
  modHi: Int32Array;
  modLo: Int32Array;
}

const tableCache = new Map<bigint, Tables>();

/** The out and mod tables for a polynomial, as 32-bit halves (also loaded into the wasm chunker). */
export function tablesFor(pol: bigint): Tables {
  const cached = tableCache.get(pol);
  if (cached) return cached;
  const k = degree(pol);
  if (k !== 53) throw new RangeError(`chunker polynomial must have degree 53, has ${k}`);
  const t: Tables = { outHi: new Int32Array(256), outLo: new Int32Array(256), modHi: new Int32Array(256), modLo: new Int32Array(256) };
  const mask32 = 0xffffffffn;
  for (let b = 0; b < 256; b++) {
    // Hash of (b, 0, 0, …, 0) over a full window: XOR it in to slide b out.
    let h = mod(BigInt(b), pol);
    for (let i = 0; i < windowSize - 1; i++) h = mod(h << 8n, pol);
    t.outHi[b] = Number(h >> 32n);
    t.outLo[b] = Number(h & mask32) | 0;
    // Reduction of the 8 bits shifted above the degree, plus those bits themselves to cancel them.
    const m = mod(BigInt(b) << BigInt(k), pol) | (BigInt(b) << BigInt(k));
    t.modHi[b] = Number(m >> 32n) | 0;
    t.modLo[b] = Number(m & mask32) | 0;
  }
  tableCache.set(pol, t);
  return t;
}

export class Chunker {
  private readonly t: Tables;
  private readonly window = new Uint8Array(windowSize);
  private wpos = 0;
  private hi = 0;
  private lo = 0;
  /** Bytes in the current chunk so far. */
  private count = 0;
  /** Bytes still to skip unhashed at the start of the chunk. */
  private pre = 0;

  constructor(pol: bigint) {
    this.t = tablesFor(pol);
    this.reset();
  }

  /** Start a new chunk (also at the start of every file). */
  reset(): void {
    this.window.fill(0);
    this.wpos = 0;
    this.hi = 0;
    this.lo = 0;
    this.count = 0;
    this.pre = 0;
    this.slide(1);
    this.count = 0;
    this.pre = minSize - windowSize;
  }

  /**
   * Feed `data[pos:end]`. Returns the index just past the end of the current chunk if it ends inside
   * this range (the chunker is then reset for the next chunk), or -1 if all of it belongs to the
   * chunk. At the end of a file, whatever was fed since the last cut is the last chunk.
   */
  next(data: Uint8Array, pos: number, end: number): number {
    if (this.pre > 0) {
      const n = end - pos;
      if (this.pre > n) {
        this.pre -= n;
        this.count += n;
        return -1;
      }
      pos += this.pre;
      this.count += this.pre;
      this.pre = 0;
    }
    const { outHi, outLo, modHi, modLo } = this.t;
    const win = this.window;
    let { wpos, hi, lo, count } = this;
    for (let i = pos; i < end; i++) {
      const b = data[i]!;
      const out = win[wpos]!;
      win[wpos] = b;
      wpos = (wpos + 1) & (windowSize - 1);
      hi ^= outHi[out]!;
      lo ^= outLo[out]!;
      const idx = (hi >>> 13) & 0xff;
      hi = (hi << 8) | (lo >>> 24);
      lo = (lo << 8) | b;
      hi ^= modHi[idx]!;
      lo ^= modLo[idx]!;
      count++;
      if (count < minSize) continue;
      if ((lo & splitMask) === 0 || count >= maxSize) {
        this.reset();
        return i + 1;
      }
    }
    this.wpos = wpos;
    this.hi = hi;
    this.lo = lo;
    this.count = count;
    return -1;
  }

  private slide(b: number): void {
    this.next(Uint8Array.of(b), 0, 1);
  }
}

/** Cut a whole buffer; returns chunk lengths. For tests and small inputs. */
export function chunkLengths(pol: bigint, data: Uint8Array): number[] {
  const c = new Chunker(pol);
  const lengths: number[] = [];
  let start = 0;
  while (start < data.length) {
    const cut = c.next(data, start, data.length);
    const end = cut < 0 ? data.length : cut;
    lengths.push(end - start);
    start = end;
  }
  return lengths;
}
