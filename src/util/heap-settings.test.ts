import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { applyHeapSettings, raiseMallocTrimThreshold, setMallocThresholds } from './heap-settings.js';

it('gives worker threads gc(), and collectAfter collects there once 16 MiB of garbage is counted', async () => {
  applyHeapSettings();
  // The worker counts its collections by wrapping the gc() it was given.
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const exposed = typeof globalThis.gc;
      const calls = [];
      const real = globalThis.gc;
      globalThis.gc = (o) => { calls.push(o); real(o); };
      const { collectAfter } = await import(workerData);
      const after = [];
      for (const mib of [10, 5, 1, 1, 15, 1]) {
        collectAfter(mib * 1024 * 1024);
        after.push(calls.length);
      }
      parentPort.postMessage({ exposed, after, calls });
    })();
  `;
  const w = new Worker(code, { eval: true, workerData: new URL('./heap-settings.js', import.meta.url).href });
  const got = await new Promise<{ exposed: string; after: number[]; calls: unknown[] }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.equal(got.exposed, 'function');
  // Counted so far: 10, 15, 16 (collect, back to 0), 1, 16 (collect), 1.
  assert.deepEqual(got.after, [0, 0, 1, 1, 2, 2]);
  // Always a major collection: a plain gc() took ~10 ms each, and a restore 1 s more of CPU.
  assert.deepEqual(got.calls, [{ type: 'major' }, { type: 'major' }]);
});

it('without the addon, raiseMallocTrimThreshold frees one untouched 8 MiB block with a major collection, where gc() is given', async () => {
  applyHeapSettings();
  // Without gc() (this thread) it does nothing.
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  raiseMallocTrimThreshold();
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      process.env.KEEPSAKE_NATIVE_CRYPTO = '0'; // this thread's copy of the environment: no addon
      const { raiseMallocTrimThreshold } = await import(workerData);
      const events = [];
      const real = globalThis.gc;
      globalThis.gc = (o) => { events.push(['gc', o]); real(o); };
      const alloc = Buffer.allocUnsafeSlow;
      Buffer.allocUnsafeSlow = (n) => { events.push(['alloc', n]); return alloc(n); };
      raiseMallocTrimThreshold();
      parentPort.postMessage(events);
    })();
  `;
  const w = new Worker(code, { eval: true, workerData: new URL('./heap-settings.js', import.meta.url).href });
  const events = await new Promise<unknown[]>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  // Allocated first, then collected (so it is freed): glibc sets its thresholds when the block is unmapped.
  assert.deepEqual(events, [['alloc', 8 * 1024 * 1024], ['gc', { type: 'major' }]]);
});

const addon = new URL('../core/crypto-native.node', import.meta.url);
const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;

/**
 * In a process of its own (the thresholds are the process's): 400 blocks of 64 KiB, each followed by
 * a small block that stays in use, filled, then dropped and collected. Returns how many KiB of
 * memory the process gave back to the system, and what setMallocThresholds said.
 */
function freedAfterDrop(set: boolean): { set: boolean | null; freedKiB: number } {
  const script = `
    import { readFileSync } from 'node:fs';
    import { setTimeout as sleep } from 'node:timers/promises';
    const { setMallocThresholds } = await import(${JSON.stringify(new URL('./heap-settings.js', import.meta.url).href)});
    const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    const set = ${set} ? setMallocThresholds(32 * 1024, 512 * 1024) : null;
    let blocks = [];
    const kept = [];
    for (let i = 0; i < 400; i++) {
      blocks.push(Buffer.allocUnsafeSlow(64 * 1024).fill(1));
      kept.push(Buffer.allocUnsafeSlow(1024).fill(2));
    }
    const before = anon();
    blocks = null;
    for (let i = 0; i < 3; i++) { gc(); await sleep(50); } // buffers are freed by a sweeper task
    process.stdout.write(JSON.stringify({ set, freedKiB: before - anon(), kept: kept.length }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { set: boolean | null; freedKiB: number };
}

it('setMallocThresholds maps blocks from the threshold on their own: freed, they go back to the system', {
  skip: (!glibc && 'glibc only: elsewhere the addon leaves malloc alone') ||
    (!existsSync(addon) && process.env.CI !== 'true' && 'the addon was not built'),
}, () => {
  // glibc's default: 64 KiB blocks come from the heap, and the small blocks in use between them keep
  // them there once freed. (Measured on Debian's glibc 2.36: -0.4 MiB back without thresholds, 11 with:
  // blocks carved from the top of a heap that still has room are not mapped.)
  const before = freedAfterDrop(false);
  const after = freedAfterDrop(true);
  assert.equal(after.set, true);
  assert.ok(after.freedKiB > before.freedKiB + 4 * 1024, `${after.freedKiB} KiB went back with thresholds, ${before.freedKiB} without`);
});

it('setMallocThresholds refuses thresholds out of range, and does nothing with the addon turned off', { skip: !existsSync(addon) && process.env.CI !== 'true' && 'the addon was not built' }, () => {
  assert.throws(() => setMallocThresholds(0, 1024), /malloc_thresholds: expected/);
  assert.throws(() => setMallocThresholds(64 * 1024 * 1024, 1024), /malloc_thresholds: expected/);
  const saved = process.env.KEEPSAKE_NATIVE_CRYPTO;
  process.env.KEEPSAKE_NATIVE_CRYPTO = '0';
  try {
    assert.equal(setMallocThresholds(0, 0), false);
  } finally {
    if (saved === undefined) delete process.env.KEEPSAKE_NATIVE_CRYPTO;
    else process.env.KEEPSAKE_NATIVE_CRYPTO = saved;
  }
});
