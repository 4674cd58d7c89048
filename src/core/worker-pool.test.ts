import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstatSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { check } from './checker.js';
import { defaultPackSize } from './pack-builder.js';
import { RepoWriter } from './repo-writer.js';
import { Repository } from './repository.js';
import { decompress } from './compress.js';
import { ChunkPool, type FileResult } from './worker-pool.js';
import { statKey, type WorkerFile } from './worker-protocol.js';

const kdf = { N: 1024, r: 8, p: 1 };

/** A file to read, listed now as the archiver lists it. */
function job(p: string): Omit<WorkerFile, 'job'> {
  const st = lstatSync(p, { bigint: true });
  return { path: p, size: Number(st.size), stat: statKey(st), compress: false };
}

it('retire waits for the files in flight, hands over every pack and stops the workers; a later file starts new ones', async () => {
  // The 77 MB below wait in the queue behind the first worker's two batches: a second one starts.
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-pool-'));
  try {
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf });
    await repo.loadIndex();
    const writer = new RepoWriter(repo);
    const errors: unknown[] = [];
    const pool = new ChunkPool([writer], { polynomial: repo.config.chunkerPolynomial, packSize: defaultPackSize, workers: 2, onUploadError: (_, e) => errors.push(e) });
    const n = 48; // ~77 MB: more than the workers take at once (two batches of up to 16 MiB each), so some wait in the queue
    const files = await Promise.all(Array.from({ length: n + 1 }, async (_, i) => {
      const p = path.join(dir, `f${i}.jpg`);
      const data = randomBytes(1_000_000 + i * 25_000);
      await writeFile(p, data);
      return { p, data };
    }));
    const results: FileResult[] = [];
    const read = async (i: number): Promise<FileResult> => {
      await pool.reserve();
      return pool.submit(job(files[i]!.p));
    };
    try {
      let settled = 0;
      const first = Array.from({ length: n }, (_, i) => read(i).then((r) => (settled++, r)));
      await first[0];
      assert.equal(pool.running, 2);
      assert.ok(settled < n, 'the test needs files still in flight when retire is called');
      await pool.retire();
      assert.equal(settled, n, 'retire returned before every file in flight was read');
      assert.equal(pool.running, 0);
      // A file after retire gets a worker again: one, as a single file leaves nothing waiting.
      const late = read(n);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(pool.running, 1);
      results.push(...(await Promise.all(first)), await late);
      await pool.retire();
      assert.equal(pool.running, 0);
    } finally {
      await pool.close();
    }
    await writer.flush();
    assert.deepEqual(errors, []);
    // Every blob the workers named was handed over and stored.
    assert.equal(results.length, n + 1);
    for (const [i, r] of results.entries()) {
      assert.ok(r.ok);
      const blobs = await Promise.all(r.content.map((id) => repo.loadBlob('data', id)));
      assert.ok(Buffer.concat(blobs).equals(files[i]!.data), `file ${i}`);
    }
    assert.deepEqual((await check(repo, { readData: true })).problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A pool of one worker over a fresh repository, and a 3 MB file `a.jpg` for it to read. */
async function withOneWorker(fn: (pool: ChunkPool, file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-pool-'));
  try {
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf });
    await repo.loadIndex();
    const pool = new ChunkPool([new RepoWriter(repo)], { polynomial: repo.config.chunkerPolynomial, packSize: defaultPackSize, workers: 1, onUploadError: () => undefined });
    const file = path.join(dir, 'a.jpg');
    await writeFile(file, randomBytes(3_000_000));
    await fn(pool, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

it('a chunk worker that dies fails the files waiting on the pool instead of leaving them waiting forever', async () => {
  await withOneWorker(async (pool, p) => {
    await pool.reserve();
    // The workers are private; stopping one from outside stands for a crash.
    await (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker.terminate();
    const r = await pool.submit(job(p));
    assert.equal(r.ok, false);
    assert.match(pool.error?.message ?? '', /stopped unexpectedly/);
    await pool.close();
  });
});

it('closing the pool while files are being handed over (an interrupted backup) fails them, and later ones, without new workers', async () => {
  await withOneWorker(async (pool, p) => {
    await pool.reserve();
    await pool.reserve();
    // Handed over, then the pool closes before the queued file goes to a worker (the dispatch is
    // deferred to the next turn of the event loop: the moment an interrupt lands in).
    const inFlight = pool.submit(job(p));
    const closing = pool.close();
    const late = pool.submit(job(p));
    await closing;
    await new Promise((r) => setImmediate(r)); // the deferred dispatch runs against no workers
    for (const r of [await inFlight, await late]) assert.equal(r.ok, false);
    await assert.rejects(pool.reserve(), /stopped before this file was read/);
    assert.equal(pool.running, 0, 'no workers started after close');
  });
});

it('a file that changed after it was listed, even to the same size, is read and reported as changed', async () => {
  await withOneWorker(async (pool, p) => {
    await pool.reserve();
    const listed = job(p);
    const same = await pool.submit(listed);
    assert.ok(same.ok && !same.changed, 'an untouched file is not changed');
    writeFileSync(p, randomBytes(3_000_000));
    utimesSync(p, new Date(2001, 0, 1), new Date(2001, 0, 1)); // a write may keep the mtime's clock tick
    await pool.reserve();
    const r = await pool.submit(listed);
    assert.ok(r.ok && r.changed, 'the file was rewritten after it was listed');
    assert.equal(r.bytes, 3_000_000);
    await pool.close();
  });
});

it('small files keep one worker busy, not two: a second starts only when a whole batch of bytes waits', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-pool-'));
  try {
    const repo = await Repository.init(new MemoryBackend(), 'pw', { kdf });
    await repo.loadIndex();
    const writer = new RepoWriter(repo);
    const pool = new ChunkPool([writer], { polynomial: repo.config.chunkerPolynomial, packSize: defaultPackSize, workers: 2, onUploadError: () => undefined });
    // 1,000 files of 20 KB: more than the 256 the pool holds open at once, ~5 MB of them at most.
    const files = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      const p = path.join(dir, `IMG_${i}.jpg`);
      await writeFile(p, randomBytes(20_000));
      return p;
    }));
    try {
      const results = await Promise.all(files.map(async (p) => {
        await pool.reserve();
        return pool.submit(job(p));
      }));
      assert.ok(results.every((r) => r.ok));
      assert.equal(pool.running, 1, 'a second worker started for small files');
      await pool.retire();
    } finally {
      await pool.close();
    }
    await writer.flush();
    assert.deepEqual((await check(repo, { readData: true })).problems, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('compresses for the main thread while a worker runs (what it returns reads back), and leaves it to the caller when none does', async () => {
  await withOneWorker(async (pool, p) => {
    const tree = Buffer.from('{"name":"IMG_0001.JPG","type":"file","mode":420},'.repeat(20_000)); // ~1 MB: several frames
    assert.equal(pool.compress(tree), undefined, 'no worker has started yet');
    await pool.reserve();
    const reading = pool.submit(job(p));
    // A Buffer that views part of a larger one: only its own bytes are sent, and it stays usable.
    const view = Buffer.concat([Buffer.alloc(100), tree]).subarray(100);
    const [z1, z2] = await Promise.all([pool.compress(tree), pool.compress(view)]);
    assert.ok(z1 && z2 && z1.length < tree.length / 10);
    assert.deepEqual(Buffer.from(decompress(z1, tree.length)), tree);
    assert.deepEqual(Buffer.from(decompress(z2, tree.length)), tree);
    assert.equal(view.length, tree.length);
    assert.equal((await reading).ok, true);
    // Asked for just before the workers stop, it is still answered; after, the caller compresses.
    const late = pool.compress(tree);
    await pool.retire();
    assert.deepEqual(Buffer.from(decompress((await late)!, tree.length)), tree);
    assert.equal(pool.compress(tree), undefined);
    await pool.close();
  });
});

it('a compression the workers cannot answer fails instead of waiting forever', async () => {
  await withOneWorker(async (pool, p) => {
    await pool.reserve();
    const reading = pool.submit(job(p));
    const z = pool.compress(Buffer.alloc(100_000, 1))!;
    await pool.close();
    await assert.rejects(z, /stopped before/);
    await reading;
  });
});
