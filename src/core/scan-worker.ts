/** A worker thread of the scan: scans whole folders (see scanner.ts) and sends back every result. */
import { parentPort, workerData } from 'node:worker_threads';
import { scanBatch } from './scanner.js';

const { fingerprints } = workerData as { fingerprints: boolean };

parentPort!.on('message', (dirs: string[]) => {
  const result = scanBatch(dirs, fingerprints);
  parentPort!.postMessage(result, result.packed.map((p) => p.buffer as ArrayBuffer));
});
