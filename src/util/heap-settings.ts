/**
 * V8 heap settings for keepsake's work, where memory is a product feature (backups run on small
 * NAS boxes and old laptops) and measured against restic's:
 *
 * - The main thread's young generation stays at its initial 1 MiB per semi-space instead of growing
 *   to 16 MiB (32 MiB resident): a backup's main thread allocates steadily (messages from the
 *   workers, tree nodes), and the grown young generation was ~12% of a 58,000-file backup's peak
 *   (275-283 -> 256-264 MiB), for no measurable speed.
 * - The old generation may grow to 2x what survived the last full collection instead of up to 4x
 *   (V8's choice on a machine with much memory): 256-264 -> 223-235 MiB on the same backup, same
 *   time (4.8 s); 1.5x saved ~20 MiB more but cost 8% of the time.
 *
 * - Worker threads get `gc()`, to collect the buffers Node's cipher drops (see collectAfter).
 *
 * V8's flags are process-wide, and starting a worker thread undoes these (observed with Node 20:
 * the main thread's young generation grew to 32 MiB again), so they are set at start and again
 * once each worker is online. (Flags on the `#!` line would need `env -S`, which BusyBox lacks.)
 */
import v8 from 'node:v8';
import { type Worker } from 'node:worker_threads';
import { projectAddon } from './addon.js';

export function applyHeapSettings(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--heap-growing-percent=100');
  // Takes effect for contexts made from now on: worker threads, not the main thread's.
  v8.setFlagsFromString('--expose-gc');
}

/** Apply the settings again once `worker` has started (its start undid them). */
export function keepHeapSettings(worker: Worker): void {
  worker.once('online', applyHeapSettings);
}

/** Bytes of garbage this thread made since its last collection (see collectAfter). */
let garbage = 0;
const collectEvery = 16 * 1024 * 1024;

/**
 * Count `bytes` of buffers just dropped, and collect once 16 MiB have been (in threads that have
 * `gc()`: workers started after applyHeapSettings). Node's cipher returns a new buffer for every
 * piece it encrypts or decrypts, so a worker that decrypts a restore drops its whole throughput as
 * 32 KiB buffers. V8 starts a full collection for such memory only once ~64 MB of it is
 * outstanding: a restore's decode worker held 40-54 MiB of it. Collecting every 16 MiB took a
 * restore of 1.92 GiB from 217-245 to 205-206 MiB at its peak and check --read-data from 212-235 to
 * 205-206 MiB (both now the key derivation's), in the same time; ~0.5 ms per collection.
 */
export function collectAfter(bytes: number): void {
  garbage += bytes;
  if (garbage < collectEvery) return;
  garbage = 0;
  // Not a plain gc(): that one took ~10 ms each here, and the restore 1 s more CPU.
  (globalThis as { gc?: (o: { type: 'major' }) => void }).gc?.({ type: 'major' });
}

/**
 * Set glibc's malloc thresholds for the whole process through the project's addon (see
 * crypto-native.c): blocks from `mmap` bytes are mapped on their own, free memory above `trim` at
 * the top of a heap goes back to the system, and glibc stops moving either by itself. False where
 * there is no addon (see addon.ts) or the C library is not glibc: nothing changed then.
 */
export function setMallocThresholds(mmap: number, trim: number): boolean {
  const addon = projectAddon<{ mallocThresholds?: (m: number, t: number) => boolean }>();
  return addon?.mallocThresholds?.(mmap, trim) ?? false;
}

/**
 * Malloc thresholds for a backup: blocks from 32 KiB mapped on their own, the heap trimmed above
 * 512 KiB. glibc's own rule raises the mmap threshold to the size of the largest mapped block freed
 * so far (up to 32 MiB), and a backup frees many blocks of 32 KiB to a few MiB: after the first
 * large one, they all came from the heaps, where the blocks still in use between them kept the
 * freed ones from going back. Measured on 2 cores (tmpfs, alternating runs, peak medians): first
 * backup of 58,833 photos of ~20 KB, six runs each, 153 MiB (spread 147-164) without, 143
 * (142-144) from 64 KiB, 139 (138-141) from 32 KiB; time medians 8.9, 9.2, 9.5 s, within the runs'
 * spread (8.0-10.4). First backup of 1.92 GiB of 4 MB
 * photos, five runs: 181 -> 166 MiB, 4.39 -> 4.63 s: its ~2,000 blocks of 32 KiB are now each
 * mapped and unmapped (2,300 mmap calls instead of 260). Memory is the target the backup missed;
 * its speed has room (see BENCHMARKS.md).
 */
export function mallocForBackup(): boolean {
  return setMallocThresholds(32 * 1024, 512 * 1024);
}

/**
 * Raise glibc's malloc trim threshold to 16 MiB for the whole process (mapping blocks from 8 MiB).
 *
 * glibc returns the free top of a heap to the kernel once it exceeds the trim threshold. That starts
 * at 128 KiB, and glibc raises it to twice the size of the largest block it hands back with munmap
 * (up to 32 MiB), so where it stands depends on which large buffers the garbage collector happened to
 * free first. A thread that decrypts drops 32 KiB buffers in bulk (see collectAfter). With a low
 * threshold, each collection gives that memory back and the next 16 MiB fault it in again: runs were
 * bimodal. Decrypting 2 GiB in one thread took 0.8-0.9 s with 7,000 page faults, or 1.0-3.0 s with
 * 25,000-118,000. Setting the thresholds (8 MiB for mmap, 16 MiB for trim) before that work begins
 * avoids it. Measured on a VM where a page fault costs ~11 µs (tmpfs, 6 runs
 * each, alternating): restore of 1.92 GiB 101,000-143,000 -> 81,000-90,000 faults, median 4.06 ->
 * 3.82 s; check --read-data 102,000-185,000 -> 81,000-86,000 faults, median 3.84 -> 3.47 s. The
 * heap keeps more between collections: peak 205-238 MiB against 205-226 (restore), 205-219 against
 * 205-210 (check). A 4 MiB block ran as fast within the noise, with outliers of 98,000 and 145,000
 * faults in 8 runs of check where 8 MiB had none above 86,000.
 * Not for backups (see mallocForBackup): there the chunk workers' freed buffers then stay in the
 * process, +20 MiB at the peak of a 58,833-file first backup, for no speed.
 *
 * Through the addon where there is one. Otherwise (from a thread that has `gc()`) by glibc's own
 * rule: freeing one mapped 8 MiB block sets the same two thresholds. That does nothing once they
 * were set explicitly (a backup earlier in the same process). Elsewhere than glibc this allocates
 * and frees an untouched block, nothing more.
 */
export function raiseMallocTrimThreshold(): void {
  if (setMallocThresholds(8 * 1024 * 1024, 16 * 1024 * 1024)) return;
  const gc = (globalThis as { gc?: (o: { type: 'major' }) => void }).gc;
  if (!gc) return;
  // Larger than glibc's mmap threshold, so it is mapped; never touched, so it costs no memory.
  Buffer.allocUnsafeSlow(8 * 1024 * 1024);
  gc({ type: 'major' });
}
