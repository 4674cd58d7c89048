/** A key derivation thread: ROMix of the lanes it was given (scrypt-lanes.ts), sent back, then it ends. */
import { parentPort, workerData } from 'node:worker_threads';
import { mixLanes } from './scrypt-lanes.js';

const { lanes, N, r } = workerData as { lanes: Uint8Array; N: number; r: number };
mixLanes(lanes, N, r);
parentPort!.postMessage(lanes, [lanes.buffer as ArrayBuffer]);
