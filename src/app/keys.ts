/**
 * The passwords of a repository, one key file each: list them (with how hard each is to guess
 * against), remove one, or replace the one in use.
 */
import { KeepsakeError } from '../core/errors.js';
import { isWeakKdf, parseKeyFile, type KdfParams } from '../core/keys.js';
import { acquireLock } from '../core/lock.js';
import { type Repository } from '../core/repository.js';

export interface KeyInfo {
  id: string;
  /** The key the given password opened. */
  current: boolean;
  username: string;
  hostname: string;
  created: string;
  kdf: KdfParams;
  /** See isWeakKdf. */
  weak: boolean;
}

export async function listKeys(repo: Repository): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for (const id of await repo.list('key')) {
    const kf = parseKeyFile(await repo.backend.load({ type: 'key', name: id }, 0, 0));
    const kdf = { N: kf.N, r: kf.r, p: kf.p };
    out.push({ id, current: id === repo.keyId, username: kf.username ?? '', hostname: kf.hostname ?? '', created: kf.created ?? '', kdf, weak: isWeakKdf(kdf) });
  }
  return out;
}

/** The one key whose ID starts with `prefix`. */
async function resolveKey(repo: Repository, prefix: string): Promise<string> {
  if (!/^[0-9a-f]{1,64}$/.test(prefix)) throw new KeepsakeError('invalid-argument', `not a key ID: ${prefix}`);
  const ids = (await repo.list('key')).filter((id) => id.startsWith(prefix));
  if (ids.length === 0) throw new KeepsakeError('not-found', `no key ${prefix}`, { hint: 'see `keepsake key list`' });
  if (ids.length > 1) throw new KeepsakeError('invalid-argument', `key prefix ${prefix} is ambiguous`);
  return ids[0]!;
}

/**
 * Remove another password's key file. Under the exclusive lock: two removals at once, each opened
 * with the key the other removes, would leave no key and the repository unreadable forever.
 */
export async function removeKey(repo: Repository, prefix: string): Promise<string> {
  const lock = await acquireLock(repo, { exclusive: true });
  try {
    const id = await resolveKey(repo, prefix);
    await repo.removeKey(id);
    return id;
  } finally {
    await lock.release();
  }
}

/**
 * Replace the key in use with one for `password` (which may be the same password: the new key is
 * calibrated on this machine, so this also strengthens a weak key). The new key is stored before
 * the old one goes.
 */
export async function changePassword(repo: Repository, password: string): Promise<{ added: string; removed: string }> {
  const lock = await acquireLock(repo, { exclusive: true });
  try {
    const added = await repo.addKey(password);
    const removed = repo.keyId;
    await repo.backend.remove({ type: 'key', name: removed });
    return { added, removed };
  } finally {
    await lock.release();
  }
}
