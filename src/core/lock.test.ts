import assert from 'node:assert/strict';
import { it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalBackend } from '../backend/local.js';
import { MemoryBackend } from '../backend/memory.js';
import { acquireLock, removeStaleLocks } from './lock.js';
import { foreignLock } from './lock.test-helper.js';
import { Repository } from './repository.js';

const kdf = { N: 1024, r: 8, p: 1 };

async function repo(): Promise<Repository> {
  const backend = new MemoryBackend();
  await Repository.init(backend, 'pw', { kdf });
  return Repository.open(backend, 'pw');
}

it('shared locks coexist; an exclusive one keeps everybody out, with who holds it in the message', async () => {
  const r = await repo();
  const a = await acquireLock(r, { exclusive: false, settleMs: 1 });
  const b = await acquireLock(r, { exclusive: false, settleMs: 1 });
  await assert.rejects(acquireLock(r, { exclusive: true, settleMs: 1 }), /in use: a lock held by PID/);
  await a.release();
  await b.release();
  assert.deepEqual(await r.list('lock'), []);
  const x = await foreignLock(r, true);
  await assert.rejects(acquireLock(r, { exclusive: false, settleMs: 1 }), /an exclusive lock held by PID 4242 on not-/);
  assert.deepEqual(await r.list('lock'), [x], 'the refused run left no lock behind');
});

it('an early lock lets reading start; a competing exclusive lock that appears while it settles fails `ready` and removes ours', async () => {
  const r = await repo();
  const lock = await acquireLock(r, { exclusive: false, early: true, settleMs: 50 });
  assert.equal((await r.list('lock')).length, 1, 'our lock exists before we read anything');
  const theirs = await foreignLock(r, true); // e.g. a prune on another machine, created at the same moment
  await assert.rejects(lock.ready, /the repository is in use: an exclusive lock/);
  assert.deepEqual(await r.list('lock'), [theirs]);
});

it('locks older than 30 minutes are stale: ignored, and removed by unlock', async () => {
  const r = await repo();
  await foreignLock(r, true, 31n * 60n * 1_000_000_000n);
  const lock = await acquireLock(r, { exclusive: true, settleMs: 1 });
  await lock.release();
  assert.equal(await removeStaleLocks(r), 1);
  assert.deepEqual(await r.list('lock'), []);
});

it('on a local disk, with no pause before the second check, two runs locking at once never both hold conflicting locks', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-lock-'));
  try {
    await Repository.init(new LocalBackend(dir), 'pw', { kdf });
    // Two processes: each its own backend and repository object on the same folder.
    const [a, b] = await Promise.all([Repository.open(new LocalBackend(dir), 'pw'), Repository.open(new LocalBackend(dir), 'pw')]);
    let refusals = 0;
    for (let i = 0; i < 25; i++) {
      const [x, y] = await Promise.allSettled([acquireLock(a, { exclusive: true }), acquireLock(b, { exclusive: i % 2 === 0 })]);
      assert.ok(x.status === 'rejected' || y.status === 'rejected', `round ${i}: both runs hold a lock`);
      refusals += Number(x.status === 'rejected') + Number(y.status === 'rejected');
      for (const r of [x, y]) if (r.status === 'fulfilled') await r.value.release();
      assert.deepEqual(await a.list('lock'), [], 'a refused run leaves no lock behind');
    }
    assert.ok(refusals >= 25);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
