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
 * V8's flags are process-wide, and starting a worker thread undoes these (observed with Node 20:
 * the main thread's young generation grew to 32 MiB again), so they are set at start and again
 * once each worker is online. (Flags on the `#!` line would need `env -S`, which BusyBox lacks.)
 */
import v8 from 'node:v8';
import { type Worker } from 'node:worker_threads';

export function applyHeapSettings(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  v8.setFlagsFromString('--heap-growing-percent=100');
}

/** Apply the settings again once `worker` has started (its start undid them). */
export function keepHeapSettings(worker: Worker): void {
  worker.once('online', applyHeapSettings);
}
