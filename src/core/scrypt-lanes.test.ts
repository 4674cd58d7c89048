import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { it } from 'node:test';
import { existsSync } from 'node:fs';
import { nativeRomix } from './crypto.js';
import { mixLanes, scryptNative, scryptOnThreads } from './scrypt-lanes.js';

const addonBuilt = existsSync(new URL('./crypto-native.node', import.meta.url));
const needsAddon = { skip: !addonBuilt && process.env.CI !== 'true' && 'the native addon was not built (npm run build)' };
if (needsAddon.skip) console.error('\n*** scrypt-lanes.test: the native addon was not built; its ROMix is not tested ***\n');

const vectors: [string, string, number, number, number, string][] = [
  ['', '', 16, 1, 1, '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906'],
  ['password', 'NaCl', 1024, 8, 16, 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640'],
  ['pleaseletmein', 'SodiumChloride', 16384, 8, 1, '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887'],
];

it('gives RFC 7914\'s test vectors', async () => {
  for (const [password, salt, N, r, p, hex] of vectors) {
    const key = await scryptOnThreads(password, Buffer.from(salt), { N, r, p }, 64, 2);
    assert.equal(key.toString('hex'), hex, `N=${N} r=${r} p=${p}`);
  }
});

it('equals Node\'s scrypt for even and odd lane counts, one to three threads, and the parameters keys use', async () => {
  const cases: [number, number, number, number][] = [
    [2, 1, 1, 1],
    [4, 2, 5, 2],
    [256, 3, 7, 3],
    [1024, 8, 2, 2],
    [32768, 8, 3, 2],
    [32768, 8, 4, 1],
  ];
  for (const [N, r, p, threads] of cases) {
    const password = `pässwörd ${randomBytes(6).toString('base64')} 🔑`;
    const salt = randomBytes(64);
    const ours = await scryptOnThreads(password, salt, { N, r, p }, 64, threads);
    const node = scryptSync(password, salt, 64, { N, r, p, maxmem: 256 * 1024 * 1024 });
    assert.deepEqual(ours, node, `N=${N} r=${r} p=${p} on ${threads} threads`);
  }
});

it('mixes lanes in place, and refuses bytes that are not whole lanes', () => {
  const lanes = randomBytes(3 * 128);
  const before = Buffer.from(lanes);
  mixLanes(lanes, 16, 1);
  assert.notDeepEqual(lanes, before);
  assert.throws(() => mixLanes(randomBytes(100), 16, 1), RangeError);
});

it('fails, and does not hang, when a thread cannot have the memory', async () => {
  // 128·r·N = 4 GiB per lane: more than a WebAssembly memory can hold.
  await assert.rejects(scryptOnThreads('pw', randomBytes(16), { N: 1 << 22, r: 8, p: 4 }, 64, 2));
});

it('the addon\'s ROMix (half of V kept) gives RFC 7914\'s vectors and Node\'s scrypt, on one thread or two', needsAddon, async () => {
  const romix = nativeRomix();
  assert.ok(romix, 'the addon is built, so it must load and be what this thread uses');
  for (const [password, salt, N, r, p, hex] of vectors) {
    const key = await scryptNative(romix, password, Buffer.from(salt), { N, r, p }, 64, 1);
    assert.equal(key.toString('hex'), hex, `N=${N} r=${r} p=${p}`);
  }
  // N=2 (one block kept), odd and even p, r not a power of two, and the parameters keys use.
  const cases: [number, number, number, number][] = [
    [2, 1, 1, 1],
    [2, 3, 2, 2],
    [4, 2, 5, 2],
    [256, 3, 7, 2],
    [32768, 8, 3, 1],
    [32768, 8, 5, 2],
  ];
  for (const [N, r, p, threads] of cases) {
    const password = `pässwörd ${randomBytes(6).toString('base64')} 🔑`;
    const salt = randomBytes(64);
    const ours = await scryptNative(romix, password, salt, { N, r, p }, 64, threads);
    const node = scryptSync(password, salt, 64, { N, r, p, maxmem: 256 * 1024 * 1024 });
    assert.deepEqual(ours, node, `N=${N} r=${r} p=${p} on ${threads} threads`);
  }
});

it('the addon\'s ROMix refuses what is not whole lanes with N a power of two', needsAddon, () => {
  const romix = nativeRomix()!;
  const lanes = randomBytes(2 * 128);
  assert.throws(() => romix(lanes.subarray(0, 100), 16, 1), /whole 128·r-byte lanes/);
  assert.throws(() => romix(lanes, 24, 1), /power of two/);
  assert.throws(() => romix(lanes, 1, 1), /power of two/);
  assert.throws(() => romix(lanes, 16, 0), /r >= 1/);
  assert.throws(() => romix('lanes' as unknown as Uint8Array, 16, 1), /whole 128·r-byte lanes/);
  assert.throws(() => romix(new Uint16Array(128) as unknown as Uint8Array, 16, 1), /whole 128·r-byte lanes/);
  assert.throws(() => romix(lanes, 16, 2 ** 21), /whole 128·r-byte lanes/);
});
