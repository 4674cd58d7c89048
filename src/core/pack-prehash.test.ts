import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { type Backend } from '../backend/backend.js';
import { LocalBackend } from '../backend/local.js';
import { prehashPacks } from './pack-prehash.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function withPacks(fn: (b: LocalBackend, good: Map<string, number>, bad: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-prehash-'));
  try {
    const b = new LocalBackend(path.join(dir, 'repo'));
    await b.create();
    const good = new Map<string, number>();
    // Sizes around the read size used below (64 bytes), so reads end both on and off a boundary.
    for (const size of [0, 1, 63, 64, 65, 200, 1000]) {
      const bytes = Buffer.alloc(size, size % 251);
      good.set(sha(bytes), size);
      await b.save({ type: 'pack', name: sha(bytes) }, bytes);
    }
    // A pack whose content is not what its name says.
    const bad = sha(Buffer.from('what was written'));
    await b.save({ type: 'pack', name: bad }, Buffer.from('what is there now'));
    await fn(b, good, bad);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

it('prehashPacks gives every local pack whose content hashes to its name, with its size, and no other', async () => {
  await withPacks(async (b, good, bad) => {
    const pre = prehashPacks(b, 64);
    await pre.done;
    const verified = await pre.stop();
    assert.deepEqual(new Map([...verified].sort()), new Map([...good].sort()));
    assert.equal(verified.has(bad), false);
  });
});

it('prehashPacks stops when told: the packs it hashed whole, and no more', async () => {
  await withPacks(async (local, good) => {
    // A backend that asks for the stop as it lists the second pack.
    const seen: string[] = [];
    let stop: () => unknown = () => undefined;
    const b: Backend = Object.assign(Object.create(Object.getPrototypeOf(local) as object) as Backend, local, {
      async *list(type: 'pack') {
        for await (const f of local.list(type)) {
          seen.push(f.name);
          if (seen.length === 2) stop();
          yield f;
        }
      },
    });
    const pre = prehashPacks(b, 16);
    stop = () => pre.stop();
    await pre.done;
    const verified = await pre.stop();
    assert.deepEqual([...verified], [[seen[0], good.get(seen[0]!)]]);
  });
});

it('prehashPacks hashes nothing where the backend has no local files', async () => {
  await withPacks(async (local) => {
    const remote: Backend = Object.assign(Object.create(Object.getPrototypeOf(local) as object) as Backend, local, { localFile: undefined });
    const pre = prehashPacks(remote);
    await pre.done;
    assert.equal((await pre.stop()).size, 0);
  });
});
