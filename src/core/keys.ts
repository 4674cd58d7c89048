/**
 * Key files: a password unlocks the repository's master key. Each key file is plain JSON holding
 * scrypt parameters, a salt, and the master key encrypted with the key scrypt derives from the
 * password. Several key files (several passwords) can unlock one repository.
 */
import { randomBytes, scrypt } from 'node:crypto';
import os from 'node:os';
import { open, seal, type MasterKey } from './crypto.js';
import { KeepsakeError } from './errors.js';
import { formatTime, goJson, nowNanos } from './gojson.js';
import { firstProblem, isPositiveInt, isString, matching, oneOf, shaped, type Fields } from './shape.js';

export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

/** What restic calibrates to on typical hardware; ~100 ms and 32 MiB per attempt. */
export const defaultKdf: KdfParams = { N: 32768, r: 8, p: 1 };

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

function derive(password: string, salt: Uint8Array, p: KdfParams): Promise<MasterKey> {
  return new Promise((resolve, reject) => {
    // Node refuses scrypt above 32 MiB unless maxmem is raised; 128·N·r bytes are needed, plus slack.
    const maxmem = 128 * p.N * p.r * 2 + 16 * 1024 * 1024;
    scrypt(password, salt, 64, { N: p.N, r: p.r, p: p.p, maxmem }, (err, k) => {
      if (err) reject(err);
      else resolve({ encrypt: k.subarray(0, 32), macK: k.subarray(32, 48), macR: k.subarray(48, 64) });
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

/** Returns the master key, or undefined if the password does not open this key file. */
export async function openKeyFile(kf: KeyFile, password: string): Promise<MasterKey | undefined> {
  const user = await derive(password, Buffer.from(kf.salt, 'base64'), kf);
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
