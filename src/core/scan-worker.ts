/** A worker thread of the scan: scans whole folders (see scanner.ts) and sends back every result. */
import { parentPort, workerData } from 'node:worker_threads';
import { scanDirSync, type ScanInfo } from './scanner.js';

const { fingerprints } = workerData as { fingerprints: boolean };

parentPort!.on('message', (dirs: string[]) => {
  const out = new Map<string, ScanInfo>();
  for (const d of dirs) scanDirSync(d, fingerprints, out);
  parentPort!.postMessage([...out]);
});
