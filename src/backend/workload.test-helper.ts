/**
 * Workloads shared by the driver tests: a stand-in for a backup (save many random blobs, read them
 * back), and a throughput probe with a pack-sized file. The real engine is tested elsewhere; these
 * only need what a backup asks of a backend.
 */
import { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Backend } from './backend.js';
import { Semaphore } from './limiter.js';
import { mibPerSecond, sha256 } from './peers.test-helper.js';

/**
 * Saves `count` random blobs (as packs, plus an index and a snapshot) with `parallel` uploads in
 * flight, then checks every one is listed and loads back intact, whole and in part.
 */
export async function backupWorkload(b: Backend, count = 40, parallel = 4): Promise<void> {
  await b.create();
  await b.save({ type: 'config', name: '' }, randomBytes(200));
  const blobs = Array.from({ length: count }, (_, i) => randomBytes(100 + ((i * 7919) % 50_000)));
  const sem = new Semaphore(parallel);
  await Promise.all(blobs.map((d) => sem.run(() => b.save({ type: 'pack', name: sha256(d) }, d))));
  const index = Buffer.from(JSON.stringify(blobs.map((d) => sha256(d))));
  await b.save({ type: 'index', name: sha256(index) }, index);
  const snap = randomBytes(300);
  await b.save({ type: 'snapshot', name: sha256(snap) }, snap);

  const listed = new Map<string, number>();
  for await (const f of b.list('pack')) listed.set(f.name, f.size);
  assert.equal(listed.size, count, 'every pack is listed once');
  for (const d of blobs) {
    const name = sha256(d);
    assert.equal(listed.get(name), d.length, `size of ${name}`);
    assert.equal(sha256(await b.load({ type: 'pack', name }, 0, 0)), name, `content of ${name}`);
    const off = Math.floor(d.length / 3);
    assert.deepEqual(Buffer.from(await b.load({ type: 'pack', name }, Math.min(50, d.length - off), off)), d.subarray(off, off + 50));
  }
  assert.equal(sha256(await b.load({ type: 'index', name: sha256(index) }, 0, 0)), sha256(index));
}

/** Upload and download of one 16 MiB pack (the size the engine writes); returns a printable line. */
export async function packThroughput(b: Backend): Promise<string> {
  const data = randomBytes(16 * 1024 * 1024);
  const h = { type: 'pack' as const, name: sha256(data) };
  let t = performance.now();
  await b.save(h, data);
  const up = performance.now() - t;
  t = performance.now();
  const back = await b.load(h, 0, 0);
  const down = performance.now() - t;
  assert.equal(sha256(back), h.name);
  await b.remove(h);
  return `${b.location}: 16 MiB pack: upload ${mibPerSecond(data.length, up)}, download ${mibPerSecond(data.length, down)}`;
}

/**
 * The throughput probe as a test of its own: a fresh repository from `open`, one pack up and down,
 * the numbers as a diagnostic, and the repository wiped afterwards.
 */
export async function packThroughputTest(t: TestContext, open: () => Backend, wipe: (b: Backend) => Promise<void>): Promise<void> {
  const b = open();
  try {
    await b.create();
    t.diagnostic(await packThroughput(b));
  } finally {
    await wipe(b);
    await b.close();
  }
}
