/**
 * Key files: a password unlocks the repository's master key. Each key file is plain JSON holding
 * scrypt parameters, a salt, and the master key encrypted with the key scrypt derives from the
 * password. Several key files (several passwords) can unlock one repository.
 */
import { randomBytes, scrypt } from 'node:crypto';
import os from 'node:os';
import { nativeRomix, open, seal, type MasterKey } from './crypto.js';
import { KeepsakeError } from './errors.js';
import { formatTime, goJson, nowNanos } from './gojson.js';
import { firstProblem, isPositiveInt, isString, matching, oneOf, shaped, type Fields } from './shape.js';
import { Semaphore } from '../util/semaphore.js';
import { scryptNative, scryptOnThreads } from './scrypt-lanes.js';

export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

/**
 * 32 MiB per attempt (128·N·r bytes). restic's calibration keeps N and r here too (its 60 MiB limit
 * allows no larger power of two) and raises p; so does calibrateKdf.
 */
const scryptCost = { N: 32768, r: 8 };

/**
 * The least a new key gets: OWASP's minimum for scrypt at this memory (p=3 for N=2^15, r=8),
 * ~150 ms on a current x86 core. Keys made before calibration existed have p=1 and still open.
 */
export const minimumKdf: KdfParams = { ...scryptCost, p: 3 };

const cost = (k: KdfParams) => ({ memory: k.N * k.r, work: k.N * k.r * k.p });

/**
 * Cheaper to guess against than the least keepsake makes now (less memory, or less work per
 * guess): keys made before calibration (p=1), or by tools with lower settings.
 */
export function isWeakKdf(k: KdfParams): boolean {
  const have = cost(k);
  const least = cost(minimumKdf);
  return have.memory < least.memory || have.work < least.work;
}

/** What one derivation may cost when a key is made: restic's limit (`restic init`, `key add`). */
export const kdfBudgetMs = 500;

/**
 * Parameters for a new key, calibrated as restic calibrates its own: the memory of minimumKdf, and
 * p as large as fits in `budgetMs` on this machine. Someone who copies the key file and guesses
 * passwords then pays about as much per guess as against a key restic made. Opening the repository
 * pays it too, once per command.
 *
 * p=1 and p=4 are each timed twice and the faster kept (a machine busy at that moment would
 * otherwise give a weaker key). A third of their difference is the cost of one lane (~65 ms here);
 * the rest of a derivation is a fixed ~100-150 ms (Node's scrypt allocates and first touches its 32
 * MiB each time), paid once, not p times. p=1 against p=2 told the lane apart from that fixed part
 * too noisily where page faults are slow: seven keys made in a row on one VM got p=4 to p=13, and
 * p=13 took 930 ms to open. Three lanes of difference gave p=4 to 6 there, opening in 436-525 ms.
 */
export async function calibrateKdf(budgetMs = kdfBudgetMs, timeOne: (p: KdfParams) => Promise<number> = timeDerivation): Promise<KdfParams> {
  const fastest = async (p: number) => Math.min(await timeOne({ ...scryptCost, p }), await timeOne({ ...scryptCost, p }));
  const one = await fastest(1);
  const four = await fastest(4);
  // A noisy clock can make the difference meaningless: then one derivation's time is the lane's.
  const threeLanes = four - one;
  const lane = threeLanes > 0 && threeLanes <= 3 * one ? threeLanes / 3 : one;
  const p = Math.floor((budgetMs - (one - lane)) / Math.max(lane, 1e-3));
  return { ...scryptCost, p: Math.max(minimumKdf.p, Math.min(p, maxCalibratedP)) };
}

/** A derivation that fast is a broken clock, not a fast machine: stop p at a cost of ~6 s here. */
const maxCalibratedP = 128;

async function timeDerivation(p: KdfParams): Promise<number> {
  const t0 = performance.now();
  await derive('calibration', randomBytes(64), p);
  return performance.now() - t0;
}

const b64 = matching(/^[A-Za-z0-9+/]*={0,2}$/);

export interface KeyFile extends KdfParams {
  created?: string;
  username?: string;
  hostname?: string;
  kdf: 'scrypt';
  salt: string;
  data: string;
}

const keyFileShape: Fields = {
  created: [isString, 'optional'],
  username: [isString, 'optional'],
  hostname: [isString, 'optional'],
  kdf: oneOf('scrypt'),
  N: isPositiveInt,
  r: isPositiveInt,
  p: isPositiveInt,
  salt: b64,
  data: b64,
};

const masterShape: Fields = {
  mac: shaped({ k: b64, r: b64 }),
  encrypt: b64,
};

/**
 * Derivations at once: one per core, at most 3. Each holds 16-32 MiB and one of the 4 threads of
 * libuv's pool (shared with file system calls) for ~0.5 s: opening several destinations at once
 * must not take them all. (A 'fast' one counts once though it uses two cores: only commands that
 * open one repository at a time ask for it.)
 */
const derivations = new Semaphore(Math.max(1, Math.min(os.availableParallelism(), 3)));

/**
 * How opening a key may use the machine. With the project's addon (crypto-native.c), ROMix runs on
 * a thread of libuv's pool with half of scrypt's usual memory: 'lean' and 'side' on one core with
 * 64·N·r bytes (16 MiB for N=2^15, r=8), 'fast' on two cores with 16 MiB each. Measured on a 2.1
 * GHz Xeon, p=8: 479-511 ms on one core and 240-274 on two, against OpenSSL's 466-493 with 32
 * MiB. The backup of 58,833 unchanged files, whose peak is the derivation beside the scan, peaked
 * at 95 MiB with OpenSSL's scrypt and 79-81 MiB with this.
 *
 * Without the addon: 'lean' is Node's scrypt (OpenSSL), one core and 128·N·r bytes (32 MiB), as
 * restic does. 'fast' spreads the lanes over two worker threads, two lanes interleaved on each in
 * WebAssembly (scrypt-lanes.wat), four times the memory (128 MiB) for ~0.3 s instead of ~0.5
 * (p=10: 310-330 vs 520-590 ms on a VM where page faults are cheap; where they are slow, ~12 µs
 * each, its 128 MiB cost ~32,000 faults and it was no faster). 'side' puts all lanes on one worker
 * of their own, two interleaved (64 MiB): p=6, 334-390 ms against lean's 496-625, the main thread
 * free meanwhile.
 *
 * Only check --read-data-subset uses 'fast', whose packs are chosen once the index is read. A
 * restore derives the 'side' way while its decode workers load (RestoreRun); a full check
 * --read-data hashes packs on the other core meanwhile (CheckRun); a backup, often the only thing
 * a small NAS does at night and mostly finding little changed, derives the lean way.
 */
export type KeyDerivation = 'lean' | 'fast' | 'side';

/** The most one lane may take off the main thread (a worker holds two): restic's own keys' 32 MiB. */
const fastLaneLimit = 32 * 1024 * 1024;

const powerOfTwo = (n: number) => n >= 2 && (n & (n - 1)) === 0;

function spreads(p: KdfParams): boolean {
  // p=1 or 2: one or two lanes, which OpenSSL on one core computes about as fast.
  return p.p >= 3 && powerOfTwo(p.N) && 128 * p.N * p.r <= fastLaneLimit && os.availableParallelism() >= 2;
}

/** `onStart`: called once the derivation runs (after any wait for another), e.g. to use the main thread meanwhile. */
function derive(password: string, salt: Uint8Array, p: KdfParams, how: KeyDerivation = 'lean', onStart?: () => void): Promise<MasterKey> {
  return derivations.run(() => {
    const romix = powerOfTwo(p.N) ? nativeRomix() : undefined;
    const cores = how === 'fast' && os.availableParallelism() >= 2 ? 2 : 1;
    const ours = romix
      ? scryptNative(romix, password, salt, p, 64, cores)
      : how !== 'lean' && spreads(p) ? scryptOnThreads(password, salt, p, 64, cores) : undefined;
    // Should the memory or a thread not be had, Node's scrypt still opens the key: same result.
    const running = ours ? ours.then(masterKeyOf, () => deriveNow(password, salt, p)) : deriveNow(password, salt, p);
    onStart?.();
    return running;
  });
}

const masterKeyOf = (k: Buffer): MasterKey => ({ encrypt: k.subarray(0, 32), macK: k.subarray(32, 48), macR: k.subarray(48, 64) });

function deriveNow(password: string, salt: Uint8Array, p: KdfParams): Promise<MasterKey> {
  return new Promise((resolve, reject) => {
    // Node refuses scrypt above 32 MiB unless maxmem is raised; 128·N·r bytes are needed, plus slack.
    const maxmem = 128 * p.N * p.r * 2 + 16 * 1024 * 1024;
    scrypt(password, salt, 64, { N: p.N, r: p.r, p: p.p, maxmem }, (err, k) => {
      if (err) reject(err);
      else resolve(masterKeyOf(k));
    });
  });
}

export async function createKeyFile(master: MasterKey, password: string, kdf: KdfParams, username = os.userInfo().username): Promise<Uint8Array> {
  const salt = randomBytes(64);
  const user = await derive(password, salt, kdf);
  const masterJson = goJson({
    mac: { k: Buffer.from(master.macK).toString('base64'), r: Buffer.from(master.macR).toString('base64') },
    encrypt: Buffer.from(master.encrypt).toString('base64'),
  });
  const data = seal(user, Buffer.from(masterJson));
  const file = goJson({
    created: formatTime(nowNanos()),
    username,
    hostname: os.hostname(),
    kdf: 'scrypt',
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    salt: salt.toString('base64'),
    data: data.toString('base64'),
  });
  return Buffer.from(file);
}

export function parseKeyFile(bytes: Uint8Array): KeyFile {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new KeepsakeError('corrupt', 'key file is not valid JSON');
  }
  const problem = firstProblem(raw, keyFileShape);
  if (problem) throw new KeepsakeError('corrupt', `key file is malformed: ${problem}`);
  const kf = raw as KeyFile;
  if (kf.N > 1 << 24 || kf.r * kf.p > 1 << 20) throw new KeepsakeError('corrupt', 'key file asks for absurd scrypt parameters');
  return kf;
}

/**
 * Returns the master key, or undefined if the password does not open this key file. `onDerive` is
 * called when the key derivation has started: scrypt runs on threads of its own for ~0.5 s, and
 * the main thread is free meanwhile.
 */
export async function openKeyFile(kf: KeyFile, password: string, how: KeyDerivation = 'lean', onDerive?: () => void): Promise<MasterKey | undefined> {
  const user = await derive(password, Buffer.from(kf.salt, 'base64'), kf, how, onDerive);
  let plain: Buffer;
  try {
    plain = open(user, Buffer.from(kf.data, 'base64'));
  } catch {
    return undefined;
  }
  let m: unknown;
  try {
    m = JSON.parse(plain.toString('utf8'));
  } catch {
    m = undefined;
  }
  if (firstProblem(m, masterShape)) throw new KeepsakeError('corrupt', 'master key in key file is malformed');
  const master = m as { mac: { k: string; r: string }; encrypt: string };
  const key = {
    encrypt: Buffer.from(master.encrypt, 'base64'),
    macK: Buffer.from(master.mac.k, 'base64'),
    macR: Buffer.from(master.mac.r, 'base64'),
  };
  if (key.encrypt.length !== 32 || key.macK.length !== 16 || key.macR.length !== 16) {
    throw new KeepsakeError('corrupt', 'master key in key file has wrong lengths');
  }
  return key;
}
