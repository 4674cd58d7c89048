import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { applyHeapSettings, raiseMallocTrimThreshold } from './heap-settings.js';

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

it('raiseMallocTrimThreshold frees one untouched 8 MiB block with a major collection, where gc() is given', async () => {
  applyHeapSettings();
  // Without gc() (this thread) it does nothing.
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  raiseMallocTrimThreshold();
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
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
