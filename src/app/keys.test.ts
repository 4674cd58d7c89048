import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { Repository } from '../core/repository.js';
import { isWeakKdf } from '../core/keys.js';
import { changePassword, listKeys, removeKey } from './keys.js';

const cheap = { N: 1024, r: 8, p: 1 };

it('keys cheaper to guess against than the minimum are called weak; restic\'s and calibrated ones are not', () => {
  assert.equal(isWeakKdf({ N: 32768, r: 8, p: 1 }), true, 'keepsake before calibration');
  assert.equal(isWeakKdf({ N: 32768, r: 8, p: 3 }), false, 'OWASP minimum');
  assert.equal(isWeakKdf({ N: 32768, r: 8, p: 11 }), false, 'restic 0.14 on the bench machine');
  assert.equal(isWeakKdf({ N: 16384, r: 8, p: 20 }), true, 'more work but half the memory');
  assert.equal(isWeakKdf({ N: 131072, r: 8, p: 1 }), false, 'OWASP first choice');
});

it('listKeys marks the key in use and the weak ones', async () => {
  const b = new MemoryBackend();
  const repo = await Repository.init(b, 'one', { kdf: cheap });
  const strong = await repo.addKey('two', { N: 32768, r: 8, p: 4 });
  const keys = await listKeys(repo);
  assert.equal(keys.length, 2);
  const byId = new Map(keys.map((k) => [k.id, k]));
  assert.deepEqual({ current: byId.get(repo.keyId)!.current, weak: byId.get(repo.keyId)!.weak }, { current: true, weak: true });
  assert.deepEqual({ current: byId.get(strong)!.current, weak: byId.get(strong)!.weak }, { current: false, weak: false });
  assert.deepEqual(byId.get(strong)!.kdf, { N: 32768, r: 8, p: 4 });
});

it('removeKey removes another password by ID prefix but never the one in use', async () => {
  const b = new MemoryBackend();
  const repo = await Repository.init(b, 'one', { kdf: cheap });
  const other = await repo.addKey('two', cheap);
  await assert.rejects(removeKey(repo, repo.keyId.slice(0, 8)), /cannot remove itself/);
  await assert.rejects(removeKey(repo, 'zz'), /not a key ID/);
  assert.equal(await removeKey(repo, other.slice(0, 6)), other);
  await assert.rejects(Repository.open(b, 'two'), /wrong password/);
  await Repository.open(b, 'one');
  assert.deepEqual(await repo.list('lock'), [], 'the exclusive lock is released');
});

it('changePassword stores the new key before removing the old: the new password opens, the old does not', async () => {
  const b = new MemoryBackend();
  const repo = await Repository.init(b, 'old', { kdf: cheap });
  const keep = await repo.addKey('someone else', cheap);
  const r = await changePassword(repo, 'new');
  assert.equal(r.removed, repo.keyId);
  assert.deepEqual((await repo.list('key')).sort(), [keep, r.added].sort());
  const reopened = await Repository.open(b, 'new');
  assert.equal(reopened.keyId, r.added);
  assert.equal(reopened.config.id, repo.config.id);
  await assert.rejects(Repository.open(b, 'old'), /wrong password/);
  const [made] = (await listKeys(reopened)).filter((k) => k.id === r.added);
  assert.equal(made!.weak, false, 'the new key is calibrated');
});
