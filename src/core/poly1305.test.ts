import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { it } from 'node:test';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { poly1305Wasm } from './poly1305.js';

const hex = (s: string) => Buffer.from(s.replace(/[\s:]/g, ''), 'hex');
const tag = (key: Uint8Array, msg: Uint8Array) => Buffer.from(poly1305Wasm(key, msg)).toString('hex');
const noble = (key: Uint8Array, msg: Uint8Array) => Buffer.from(poly1305(msg, key)).toString('hex');

it('gives RFC 8439\'s tags (section 2.5.2 and the appendix A.3 vectors)', () => {
  const key = hex('85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b');
  assert.equal(tag(key, Buffer.from('Cryptographic Forum Research Group')), 'a8061dc1305136c6c22b8baf0c0127a9');
  // A.3 #1: all-zero key and message.
  assert.equal(tag(Buffer.alloc(32), Buffer.alloc(64)), '00000000000000000000000000000000');
  // A.3 #5: r = 2, h lands just below 2^130 - 5 plus a wrap.
  const r2 = Buffer.alloc(32);
  r2[0] = 2;
  assert.equal(tag(r2, Buffer.alloc(16, 0xff)), '03000000000000000000000000000000');
  // A.3 #6: s = 2^128 - 1 (all 0xff), so the final addition wraps mod 2^128.
  const s = Buffer.alloc(32);
  s[0] = 2;
  s.fill(0xff, 16);
  const m6 = Buffer.alloc(16);
  m6[0] = 2;
  assert.equal(tag(s, m6), '03000000000000000000000000000000');
  // A.3 #7-#11: h reaches p and beyond; the final reduction must subtract p exactly once.
  const r1 = Buffer.alloc(32);
  r1[0] = 1;
  const m7 = Buffer.concat([Buffer.alloc(16, 0xff), hex('f0ffffffffffffffffffffffffffffff'), hex('11000000000000000000000000000000')]);
  assert.equal(tag(r1, m7), '05000000000000000000000000000000');
  const m8 = Buffer.concat([Buffer.alloc(16, 0xff), hex('fbfefefefefefefefefefefefefefefe'), Buffer.alloc(16, 0x01)]);
  assert.equal(tag(r1, m8), '00000000000000000000000000000000');
  const m9 = hex('fdffffffffffffffffffffffffffffff');
  assert.equal(tag(r2, m9), 'faffffffffffffffffffffffffffffff');
  const r5 = Buffer.alloc(32);
  r5[0] = 1;
  r5[8] = 4;
  const m10 = hex('e33594d7505e43b900000000000000003394d7505e4379cd01000000000000000000000000000000000000000000000001000000000000000000000000000000');
  assert.equal(tag(r5, m10), '14000000000000005500000000000000');
  const m11 = hex('e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000');
  assert.equal(tag(r5, m11), '13000000000000000000000000000000');
});

it('agrees with noble\'s Poly1305 on random keys and messages of every short length and across its 64 KiB pieces', () => {
  const lengths = [...Array(300).keys(), 65535, 65536, 65537, 65536 * 3 - 1, 1024 * 1024 + 7, 4 * 1024 * 1024];
  for (const n of lengths) {
    const key = randomBytes(32);
    const msg = randomBytes(n);
    assert.equal(tag(key, msg), noble(key, msg), `${n} bytes`);
  }
});

it('agrees with noble on keys and messages of extreme values, where the limbs carry the most', () => {
  const keys = [Buffer.alloc(32, 0xff), Buffer.alloc(32), Buffer.concat([Buffer.alloc(16, 0xff), Buffer.alloc(16)])];
  for (const key of keys) {
    // 32, 48, 64: one pair of blocks (the last pair's own multipliers), a pair and a block, two pairs.
    for (const n of [1, 16, 17, 32, 48, 64, 1000, 65536 + 16]) {
      for (const msg of [Buffer.alloc(n, 0xff), Buffer.alloc(n), randomBytes(n)]) {
        assert.equal(tag(key, msg), noble(key, msg), `key ${key.toString('hex').slice(0, 8)}…, ${n} bytes`);
      }
    }
  }
  for (let i = 0; i < 200; i++) {
    const key = randomBytes(32);
    key.fill(0xff, 0, randomInt(17)); // r with many bits set after clamping
    const msg = Buffer.alloc(randomInt(1, 200), 0xff);
    assert.equal(tag(key, msg), noble(key, msg));
  }
});

it('authenticates a message that is a view into a larger buffer, and leaves the inputs unchanged', () => {
  const big = randomBytes(70_000);
  const key = randomBytes(32);
  const keyCopy = Buffer.from(key);
  const view = big.subarray(123, 69_999);
  const copy = Buffer.from(view);
  assert.equal(tag(key, view), noble(key, copy));
  assert.deepEqual(key, keyCopy);
  assert.deepEqual(Buffer.from(view), copy);
});
