/** A worker thread of the scan: scans whole folders (see scanner.ts) and sends back every result. */
import { parentPort, workerData } from 'node:worker_threads';
import { ScanPacker, scanDirSync, type ScanBatchResult, type ScanInfo } from './scanner.js';

const { fingerprints } = workerData as { fingerprints: boolean };

parentPort!.on('message', (dirs: string[]) => {
  const packer = new ScanPacker(new Set(dirs));
  const units: [string, ScanInfo][] = [];
  for (const d of dirs) {
    const info = scanDirSync(d, fingerprints, packer);
    if (info) units.push([d, info]);
  }
  const result: ScanBatchResult = { units, packed: packer.take() };
  parentPort!.postMessage(result, result.packed.map((p) => p.buffer as ArrayBuffer));
});
