/**
 * scrypt (RFC 7914) with its ROMix done here rather than by Node's scrypt. scrypt is PBKDF2, then
 * ROMix on each of p independent 128·r-byte lanes, then PBKDF2 again; Node's scrypt (OpenSSL) runs
 * the lanes one after another on one thread and holds 128·r·N bytes. Here PBKDF2 stays Node's, and
 * ROMix runs either in the project's addon (crypto-native.c: on libuv's pool, half the memory) or
 * in scrypt-lanes.wat on worker threads, two lanes interleaved per worker (see there why by hand).
 * Results are byte-identical to Node's scrypt (tests compare them).
 */
import { pbkdf2Sync } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { keepHeapSettings } from '../util/heap-settings.js';
import type { KdfParams } from './keys.js';
import { instantiate } from './wasm.js';

interface Exports {
  memory: WebAssembly.Memory;
  romix2(r: number, n: number): void;
}

/** Word k of a block in the module's order is word (5·k mod 16) of the Salsa20 state. */
const order = Array.from({ length: 16 }, (_, k) => (k * 5) % 16);

/**
 * ROMix of every 128·r-byte lane in `lanes`, in place, two at a time (an odd last one is mixed
 * twice, side by side). Holds 2·128·r·(N+3) bytes while it runs. N must be a power of two >= 2.
 */
export function mixLanes(lanes: Uint8Array, N: number, r: number): void {
  const bs = 128 * r;
  if (lanes.length % bs !== 0) throw new RangeError('lanes must be whole 128·r-byte blocks');
  const x = instantiate<Exports>('scrypt-lanes.wasm');
  const region = bs * (N + 3);
  x.memory.grow(Math.ceil((2 * region) / 65536) - x.memory.buffer.byteLength / 65536);
  const mem = new Uint32Array(x.memory.buffer);
  const count = lanes.length / bs;
  for (let first = 0; first < count; first += 2) {
    const pair = [first, Math.min(first + 1, count - 1)];
    pair.forEach((lane, k) => moveWords(lanes, lane * bs, mem, (k * region) / 4, bs, 'in'));
    x.romix2(r, N);
    pair.forEach((lane, k) => moveWords(lanes, lane * bs, mem, (k * region) / 4, bs, 'out'));
  }
}

/** Copy one lane between the caller's bytes (little-endian words) and the module's word order. */
function moveWords(lanes: Uint8Array, at: number, mem: Uint32Array, to: number, bs: number, way: 'in' | 'out'): void {
  const view = new DataView(lanes.buffer, lanes.byteOffset + at, bs);
  for (let b = 0; b < bs / 64; b++) {
    for (let k = 0; k < 16; k++) {
      const byte = b * 64 + order[k]! * 4;
      if (way === 'in') mem[to + b * 16 + k] = view.getUint32(byte, true);
      else view.setUint32(byte, mem[to + b * 16 + k]!, true);
    }
  }
}

/** ROMix of whole lanes, somewhere off the main thread; resolves to the mixed lanes. */
type Mixer = (lanes: Uint8Array, N: number, r: number) => Promise<Uint8Array>;

/**
 * scrypt(password, salt) with the lanes shared by `threads` workers, each given whole pairs of
 * lanes. The caller checks that the parameters suit (N a power of two, the memory acceptable).
 */
export function scryptOnThreads(password: string, salt: Uint8Array, params: KdfParams, keyLength: number, threads: number): Promise<Buffer> {
  return scryptShared(password, salt, params, keyLength, threads, 2, inWorker);
}

/**
 * scrypt(password, salt) with ROMix in the addon (`romix`, from nativeRomix): `threads` calls at
 * once, each on a thread of libuv's pool with 64·r·N bytes. N must be a power of two.
 */
export function scryptNative(romix: (lanes: Uint8Array, N: number, r: number) => Promise<void>, password: string, salt: Uint8Array, params: KdfParams, keyLength: number, threads: number): Promise<Buffer> {
  return scryptShared(password, salt, params, keyLength, threads, 1, async (lanes, N, r) => {
    await romix(lanes, N, r);
    return lanes;
  });
}

/** The lanes split into at most `threads` shares of whole `unit`s of lanes, mixed at once. */
async function scryptShared(password: string, salt: Uint8Array, params: KdfParams, keyLength: number, threads: number, unit: number, mix: Mixer): Promise<Buffer> {
  const { N, r, p } = params;
  const bs = 128 * r;
  const b = pbkdf2Sync(password, salt, 1, p * bs, 'sha256');
  const units = Math.ceil(p / unit);
  const shares: [number, number][] = [];
  for (let t = 0, lane = 0; t < threads && lane < p; t++) {
    const n = unit * Math.ceil((units - lane / unit) / (threads - t));
    shares.push([lane, Math.min(p, lane + n)]);
    lane += n;
  }
  await Promise.all(
    shares.map(async ([from, to]) => {
      const mixed = await mix(b.slice(from * bs, to * bs), N, r);
      b.set(mixed, from * bs);
    }),
  );
  return pbkdf2Sync(password, b, 1, keyLength, 'sha256');
}

function inWorker(lanes: Uint8Array, N: number, r: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./scrypt-worker.js', import.meta.url), { workerData: { lanes, N, r } });
    keepHeapSettings(worker);
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a key derivation thread stopped (exit code ${code})`))); // no-op once resolved
  });
}
