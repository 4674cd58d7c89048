/**
 * Polynomials over GF(2) for restic's Rabin chunker, as bigint bit sets (bit i = coefficient of x^i).
 * Only used to pick a repository's random irreducible polynomial and to build the chunker's tables,
 * so clarity beats speed here.
 */
import { randomBytes } from 'node:crypto';

export function degree(x: bigint): number {
  return x === 0n ? -1 : x.toString(2).length - 1;
}

export function mod(x: bigint, m: bigint): bigint {
  const dm = degree(m);
  for (let dx = degree(x); dx >= dm; dx = degree(x)) x ^= m << BigInt(dx - dm);
  return x;
}

function mulMod(a: bigint, b: bigint, m: bigint): bigint {
  let res = 0n;
  a = mod(a, m);
  for (; b > 0n; b >>= 1n) {
    if (b & 1n) res ^= a;
    a = mod(a << 1n, m);
  }
  return res;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, mod(a, b)];
  return a;
}

/** (x^(2^p) − x) mod g */
function qp(p: number, g: bigint): bigint {
  let res = 2n; // x
  for (let i = 0; i < p; i++) res = mulMod(res, res, g);
  return mod(res ^ 2n, g);
}

/** Ben-Or's irreducibility test, as restic's chunker package applies it. */
export function irreducible(x: bigint): boolean {
  const half = Math.floor(degree(x) / 2);
  for (let i = 1; i <= half; i++) if (gcd(x, qp(i, x)) !== 1n) return false;
  return true;
}

/** A random irreducible polynomial of degree 53, as `restic init` chooses one. */
export function randomPolynomial(): bigint {
  for (let tries = 0; tries < 1_000_000; tries++) {
    let f = randomBytes(8).readBigUInt64LE(0) & ((1n << 54n) - 1n);
    f |= (1n << 53n) | 1n;
    if (degree(f) === 53 && irreducible(f)) return f;
  }
  throw new Error('no irreducible polynomial found');
}
