import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { macImplementation, open, poly1305Aes, randomKey, seal } from './crypto.js';
import { CorruptError } from './errors.js';
import { loadPoly1305 } from './poly1305.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

// Test vectors from D. J. Bernstein, "The Poly1305-AES message-authentication code", appendix B.
const vectors = [
  {
    msg: 'f3f6',
    r: '851fc40c3467ac0be05cc20404f3f700',
    k: 'ec074c835580741701425b623235add6',
    nonce: 'fb447350c4e868c52ac3275cf9d4327e',
    mac: 'f4c633c3044fc145f84f335cb81953de',
  },
  {
    msg: '',
    r: 'a0f3080000f46400d0c7e9076c834403',
    k: '75deaa25c09f208e1dc4ce6b5cad3fbf',
    nonce: '61ee09218d29b0aaed7e154a2c5509cc',
    mac: 'dd3fab2251f11ac759f0887129cc2ee7',
  },
];

it('Poly1305-AES matches the paper\'s test vectors', () => {
  for (const v of vectors) {
    const key = { encrypt: Buffer.alloc(32), macK: hex(v.k), macR: hex(v.r) };
    assert.equal(Buffer.from(poly1305Aes(key, hex(v.nonce), hex(v.msg))).toString('hex'), v.mac);
  }
});

it('seal/open round-trips and has IV ‖ ciphertext ‖ MAC layout', () => {
  const key = randomKey();
  for (const n of [0, 1, 15, 16, 17, 1000, 100_000, 2 * 1024 * 1024 + 3]) {
    const plain = randomBytes(n);
    const sealed = seal(key, plain);
    assert.equal(sealed.length, n + 32);
    assert.deepEqual(open(key, sealed), plain);
  }
});

it('every seal gets an IV of its own, across refills of the IV pool', () => {
  const key = randomKey();
  const ivs = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const sealed = seal(key, Buffer.from([i & 255]));
    const iv = sealed.subarray(0, 16);
    assert.ok(iv.some((b) => b !== 0), 'an all-zero IV');
    ivs.add(iv.toString('hex'));
    assert.deepEqual(open(key, sealed), Buffer.from([i & 255]));
  }
  assert.equal(ivs.size, 1000);
});

it('open refuses any flipped bit, a wrong key, a short or zero-IV input', () => {
  const key = randomKey();
  const sealed = seal(key, Buffer.from('a photo of grandma'));
  for (let i = 0; i < sealed.length; i++) {
    const bad = Buffer.from(sealed);
    bad[i]! ^= 0x10;
    assert.throws(() => open(key, bad), CorruptError, `flip at ${i}`);
  }
  assert.throws(() => open(randomKey(), sealed), CorruptError);
  assert.throws(() => open(key, sealed.subarray(0, 31)), CorruptError);
  const zeroIv = Buffer.from(sealed);
  zeroIv.fill(0, 0, 16);
  assert.throws(() => open(key, zeroIv), CorruptError);
});

it('authenticates with the WebAssembly Poly1305 from the first MAC on, in agreement with noble\'s across its pieces', () => {
  const key = randomKey();
  const sizes = [0, 1, 15, 16, 17, 1000, 1024 * 1024, 3 * 1024 * 1024 + 5];
  for (const n of sizes) {
    const msg = randomBytes(n);
    const iv = randomBytes(16);
    // Poly1305-AES from its parts: r, then s = AES-128 of the IV under the MAC key.
    const ecb = createCipheriv('aes-128-ecb', key.macK, null).setAutoPadding(false);
    const oneTime = Buffer.concat([key.macR, ecb.update(iv)]);
    assert.deepEqual(Buffer.from(poly1305Aes(key, iv, msg)), Buffer.from(poly1305(msg, oneTime)), `${n} bytes`);
  }
  let simd = true;
  try {
    loadPoly1305();
  } catch {
    simd = false;
  }
  assert.equal(macImplementation(), simd ? 'webassembly' : 'noble');
});

// Arm64 always has the vector instructions WebAssembly SIMD needs, and V8 has no flag to turn them off.
const x86Only = process.arch === 'x64' ? false : 'x86 only: elsewhere WebAssembly SIMD cannot be switched off';

it('where WebAssembly SIMD is missing (x86 without SSE4.1), a thread authenticates with noble\'s Poly1305 and blobs still open both ways', { skip: x86Only }, () => {
  const key = randomKey();
  const plain = randomBytes(100_003);
  const sealedHere = seal(key, plain);
  // A child node told not to use SSE4.1 has no WebAssembly SIMD, as on such a processor.
  const child = `
    import { macImplementation, open, seal } from ${JSON.stringify(new URL('./crypto.js', import.meta.url).href)};
    import { loadPoly1305 } from ${JSON.stringify(new URL('./poly1305.js', import.meta.url).href)};
    let simd = true;
    try { loadPoly1305(); } catch { simd = false; }
    const input = JSON.parse((await import('node:fs')).readFileSync(0, 'utf8'));
    const key = { encrypt: Buffer.from(input.encrypt, 'hex'), macK: Buffer.from(input.macK, 'hex'), macR: Buffer.from(input.macR, 'hex') };
    // The first MAC chooses the implementation: nothing was loaded beforehand.
    const opened = open(key, Buffer.from(input.sealed, 'hex'));
    process.stdout.write(JSON.stringify({ simd, mac: macImplementation(), opened: opened.toString('hex'), sealed: seal(key, opened).toString('hex') }));
  `;
  const input = JSON.stringify({ ...Object.fromEntries(Object.entries(key).map(([k, v]) => [k, Buffer.from(v).toString('hex')])), sealed: sealedHere.toString('hex') });
  const r = spawnSync(process.execPath, ['--no-enable-sse4-1', '--input-type=module', '-e', child], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { simd: boolean; mac: string; opened: string; sealed: string };
  assert.equal(out.simd, false, 'the child should have had no WebAssembly SIMD');
  assert.equal(out.mac, 'noble');
  assert.equal(out.opened, plain.toString('hex'));
  assert.deepEqual(open(key, Buffer.from(out.sealed, 'hex')), plain);
});
