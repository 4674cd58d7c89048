import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { chooseCrypto, cryptoImplementation, open, poly1305Aes, randomKey, seal } from './crypto.js';
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

it('a MAC agrees with noble\'s Poly1305-AES at every size, whichever implementation this thread chose', () => {
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
});

const addon = new URL('./crypto-native.node', import.meta.url);

it('uses the native addon where the build made it (always in CI), else WebAssembly, else noble', () => {
  const built = existsSync(addon);
  if (process.env.CI === 'true') assert.ok(built, 'CI must build the native crypto addon (npm run build)');
  if (!built) console.error('\n*** crypto.test: the native crypto addon was not built; testing the WebAssembly one in its place ***\n');
  let simd = true;
  try {
    loadPoly1305();
  } catch {
    simd = false;
  }
  assert.equal(chooseCrypto(), built ? 'native' : simd ? 'webassembly' : 'noble');
  assert.equal(cryptoImplementation(), chooseCrypto());
});

it('the addon refuses arguments of the wrong size instead of reading or writing past them', { skip: !existsSync(addon) && process.env.CI !== 'true' && 'the addon was not built' }, () => {
  const native = createRequire(import.meta.url)('./crypto-native.node') as {
    keys(e: Uint8Array, k: Uint8Array, r: Uint8Array): object;
    open(keys: object, sealed: Uint8Array, out: Uint8Array): boolean;
    seal(keys: object, out: Uint8Array, offset: number, plain: Uint8Array): void;
    mac(keys: object, iv: Uint8Array, msg: Uint8Array, tag: Uint8Array): void;
  };
  const k = randomKey();
  assert.throws(() => native.keys(k.encrypt.subarray(0, 31), k.macK, k.macR), /32, 16 and 16/);
  assert.throws(() => native.keys(k.encrypt, k.macK, 'r' as unknown as Uint8Array), /32, 16 and 16/);
  const keys = native.keys(k.encrypt, k.macK, k.macR);
  assert.throws(() => native.keys(k.encrypt, k.macK, new Uint16Array(8) as unknown as Uint8Array), /32, 16 and 16/);
  assert.throws(() => native.seal(keys, Buffer.alloc(40), 0, Buffer.alloc(9)), /room at offset/);
  assert.throws(() => native.seal(keys, Buffer.alloc(40), -1, Buffer.alloc(1)), /room at offset/);
  assert.throws(() => native.seal({}, Buffer.alloc(40), 0, Buffer.alloc(1)), /expected keys/);
  const sealed = seal(k, Buffer.from('twelve bytes'));
  assert.throws(() => native.open(keys, sealed, Buffer.alloc(11)), /room for the plaintext/);
  assert.throws(() => native.open(keys, sealed.subarray(0, 31), Buffer.alloc(64)), /at least 32/);
  assert.throws(() => native.mac(keys, Buffer.alloc(15), Buffer.alloc(3), Buffer.alloc(16)), /16-byte IV/);
  const out = Buffer.alloc(12);
  assert.equal(native.open(keys, sealed, out), true);
  assert.equal(out.toString(), 'twelve bytes');
});

// Arm64 always has the vector instructions WebAssembly SIMD needs, and V8 has no flag to turn them off.
const noSimdFlags = process.arch === 'x64' ? ['--no-enable-sse4-1'] : undefined;

for (const [want, flags] of [['webassembly', []], ['noble', noSimdFlags]] as const) {
  it(`a thread without the addon${want === 'noble' ? ' or WebAssembly SIMD (x86 without SSE4.1)' : ''} uses ${want}: the same MACs, and blobs open both ways`, { skip: !flags && 'x86 only: elsewhere WebAssembly SIMD cannot be switched off' }, () => {
    const key = randomKey();
    const plains = [0, 1, 17, 100_003, 1024 * 1024 + 7].map((n) => randomBytes(n));
    const sealedHere = plains.map((p) => seal(key, p));
    const child = `
      import { cryptoImplementation, open, poly1305Aes, seal } from ${JSON.stringify(new URL('./crypto.js', import.meta.url).href)};
      const input = JSON.parse((await import('node:fs')).readFileSync(0, 'utf8'));
      const key = { encrypt: Buffer.from(input.encrypt, 'hex'), macK: Buffer.from(input.macK, 'hex'), macR: Buffer.from(input.macR, 'hex') };
      // The first MAC chooses the implementation: nothing was loaded beforehand.
      const opened = input.sealed.map((s) => open(key, Buffer.from(s, 'hex')));
      let refused = 0;
      for (const s of input.sealed) {
        const bad = Buffer.from(s, 'hex');
        bad[bad.length >> 1] ^= 1;
        try { open(key, bad); } catch { refused++; }
      }
      const vectors = input.vectors.map((v) => Buffer.from(poly1305Aes({ encrypt: Buffer.alloc(32), macK: Buffer.from(v.k, 'hex'), macR: Buffer.from(v.r, 'hex') }, Buffer.from(v.nonce, 'hex'), Buffer.from(v.msg, 'hex'))).toString('hex'));
      process.stdout.write(JSON.stringify({ mac: cryptoImplementation(), refused, vectors, opened: opened.map((o) => o.toString('hex')), sealed: opened.map((o) => seal(key, o).toString('hex')) }));
    `;
    const hexKey = Object.fromEntries(Object.entries(key).map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
    const input = JSON.stringify({ ...hexKey, vectors, sealed: sealedHere.map((s) => s.toString('hex')) });
    const r = spawnSync(process.execPath, [...flags!, '--input-type=module', '-e', child], {
      input,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, KEEPSAKE_NATIVE_CRYPTO: '0' },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { mac: string; refused: number; vectors: string[]; opened: string[]; sealed: string[] };
    assert.equal(out.mac, want);
    assert.deepEqual(out.vectors, vectors.map((v) => v.mac));
    assert.equal(out.refused, plains.length);
    assert.deepEqual(out.opened, plains.map((p) => p.toString('hex')));
    out.sealed.forEach((s, i) => assert.deepEqual(open(key, Buffer.from(s, 'hex')), plains[i]));
  });
}
