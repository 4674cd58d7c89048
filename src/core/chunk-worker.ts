/**
 * A backup worker thread: reads files, cuts them into chunks, hashes the chunks, asks the main
 * thread which blobs are new, and encrypts only those into its own pack. Finished packs go to the
 * main thread (the buffer is transferred, not copied) for upload.
 *
 * Files are read through one reusable arena; a round trip to the main thread happens when the arena
 * is full or the batch is done, so thousands of small files cost a few messages, not thousands.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { WasmChunker } from './chunker-wasm.js';
import { compressChecked, loadZstd } from './compress.js';
import { chooseCrypto, type MasterKey } from './crypto.js';
import { hashID } from './hash.js';
import { firstChunkCut } from './jpeg.js';
import { PackBuilder } from './pack-builder.js';
import { statKey, type FromWorker, type ToWorker, type WorkerFile, type WorkerInit } from './worker-protocol.js';

chooseCrypto(); // every byte read is authenticated here

const init = workerData as WorkerInit;
const port = parentPort!;
// Files are read straight into the chunker's WebAssembly memory: the arena is a view of it.
const chunker = new WasmChunker(BigInt(`0x${init.polynomial}`), init.arenaSize);
const arena = chunker.data;
let used = 0;

interface PendingChunk {
  file: FileState;
  start: number;
  end: number;
  id: string;
}
interface FileState {
  job: WorkerFile;
  content: string[];
  done: boolean;
  bytes: number;
  changed: boolean;
}

let pending: PendingChunk[] = [];
const openFiles: FileState[] = [];
const dests = init.destinations.map((d) => ({
  compress: d.compress,
  pack: new PackBuilder({ encrypt: d.key.encrypt, macK: d.key.macK, macR: d.key.macR } satisfies MasterKey, 'data', d.staging, init.packSize),
  failed: false,
}));

/**
 * A write to a destination's pack file. If it fails (a full disk), this worker stores nothing more
 * for that destination and tells the main thread, which fails the destination: the error belongs to
 * the destination, not to the file being read.
 */
function packOp<T>(d: number, fn: () => T): T | undefined {
  const dest = dests[d]!;
  try {
    return fn();
  } catch (err) {
    dest.failed = true;
    dest.pack.discard();
    post({ t: 'pack-error', dest: d, code: (err as NodeJS.ErrnoException).code ?? '', message: (err as Error).message });
    return undefined;
  }
}

// Replies from the main thread arrive in order: one `need` per `hashes`, one `ack` per `pack`.
const waiters: { kind: 'need' | 'ack'; resolve: (m: ToWorker) => void }[] = [];
const queue: ToWorker[] = [];
let busy = false;

function post(m: FromWorker): void {
  port.postMessage(m);
}

function waitFor(kind: 'need' | 'ack'): Promise<ToWorker> {
  return new Promise((resolve) => waiters.push({ kind, resolve }));
}

const uploading: Promise<ToWorker>[] = [];

async function sendPack(dest: number): Promise<void> {
  // This is the backpressure from slow uploads.
  while (uploading.length >= init.packsInFlight) await uploading.shift();
  const p = packOp(dest, () => dests[dest]!.pack.finish());
  if (!p) return;
  uploading.push(waitFor('ack'));
  post({ t: 'pack', dest, id: p.id, file: p.file, size: p.size, blobs: p.blobs });
}

async function round(): Promise<void> {
  if (pending.length > 0) {
    const chunks = pending;
    pending = [];
    post({ t: 'hashes', ids: chunks.map((c) => c.id) });
    const reply = await waitFor('need');
    if (reply.t !== 'need') throw new Error('protocol: expected need');
    const n = dests.length;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      c.file.content.push(c.id);
      const blob = arena.subarray(c.start, c.end);
      for (let d = 0; d < n; d++) {
        const dest = dests[d]!;
        if (!reply.need[i * n + d] || dest.failed) continue;
        const z = dest.compress && c.file.job.compress;
        if (packOp(d, () => dest.pack.add(c.id, blob, z)) === false) {
          await sendPack(d);
          packOp(d, () => dest.pack.add(c.id, blob, z));
        }
        if (!dest.failed && dest.pack.full) await sendPack(d);
      }
    }
  }
  while (openFiles[0]?.done) {
    const f = openFiles.shift()!;
    post({ t: 'file-done', job: f.job.job, content: f.content, bytes: f.bytes, changed: f.changed });
  }
}

async function readFile(job: WorkerFile): Promise<void> {
  let fd: number;
  try {
    fd = openSync(job.path, 'r');
  } catch (err) {
    post({ t: 'file-error', job: job.job, code: (err as NodeJS.ErrnoException).code ?? '', message: (err as Error).message });
    return;
  }
  const state: FileState = { job, content: [], done: false, bytes: 0, changed: false };
  openFiles.push(state);
  try {
    chunker.reset();
    let chunkStart = used;
    let scan = used;
    // A JPEG's first chunk is cut once more where its metadata ends (see jpeg.ts).
    let metadataEnd = -1;
    const emit = (end: number): void => {
      if (metadataEnd > 0 && chunkStart + metadataEnd < end) {
        const m = chunkStart + metadataEnd;
        pending.push({ file: state, start: chunkStart, end: m, id: hashID(arena.subarray(chunkStart, m)) });
        chunkStart = m;
      }
      metadataEnd = 0; // only the first chunk
      pending.push({ file: state, start: chunkStart, end, id: hashID(arena.subarray(chunkStart, end)) });
      chunkStart = end;
    };
    for (;;) {
      if (used === arena.length) {
        await round();
        arena.copy(arena, 0, chunkStart, used);
        used -= chunkStart;
        scan -= chunkStart;
        chunkStart = 0;
      }
      const n = readSync(fd, arena, used, arena.length - used, state.bytes);
      if (metadataEnd < 0) {
        // The first read: the file starts at chunkStart.
        metadataEnd = firstChunkCut(job.size, arena.subarray(chunkStart, used + n));
      }
      state.bytes += n;
      used += n;
      for (;;) {
        const cut = chunker.next(scan, used);
        if (cut < 0) {
          scan = used;
          break;
        }
        emit(cut);
        scan = cut;
      }
      if (n === 0) break;
    }
    if (chunkStart < used) emit(used);
    state.changed = statKey(fstatSync(fd, { bigint: true })) !== job.stat || state.bytes !== job.size;
  } catch (err) {
    // The file's chunks read so far stay pending (harmless if stored); the file itself is reported.
    openFiles.splice(openFiles.indexOf(state), 1);
    pending = pending.filter((c) => c.file !== state);
    post({ t: 'file-error', job: job.job, code: (err as NodeJS.ErrnoException).code ?? '', message: (err as Error).message });
    return;
  } finally {
    closeSync(fd);
  }
  state.done = true;
}

async function handle(m: ToWorker): Promise<void> {
  if (m.t === 'files') {
    // zstd is loaded by the first batch with something worth compressing (a library of photos and
    // videos may never need it).
    if (dests.some((d) => d.compress) && m.files.some((f) => f.compress)) await loadZstd();
    for (const f of m.files) await readFile(f);
    await round();
    used = 0;
    post({ t: 'batch-done' });
  } else if (m.t === 'flush') {
    await round();
    used = 0;
    for (let d = 0; d < dests.length; d++) if (!dests[d]!.failed && dests[d]!.pack.count > 0) await sendPack(d);
    await Promise.all(uploading.splice(0));
    post({ t: 'flushed' });
  }
}

async function drain(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    while (queue.length > 0) await handle(queue.shift()!);
  } catch (err) {
    post({ t: 'fatal', message: (err as Error).stack ?? String(err) });
  } finally {
    busy = false;
  }
}

/**
 * Compress for the main thread, answered between files rather than after the batch: a folder's tree
 * waits for it. The result is a copy out of the WebAssembly heap, so it is transferred, not copied.
 */
async function compressFor(req: number, data: Uint8Array): Promise<void> {
  try {
    await loadZstd();
    const z = compressChecked(data);
    port.postMessage({ t: 'compressed', req, data: z } satisfies FromWorker, [z.buffer as ArrayBuffer]);
  } catch (err) {
    post({ t: 'fatal', message: (err as Error).stack ?? String(err) });
  }
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'compress') {
    void compressFor(m.req, m.data);
    return;
  }
  if (m.t === 'need' || m.t === 'ack') {
    const i = waiters.findIndex((w) => w.kind === m.t);
    waiters.splice(i, 1)[0]!.resolve(m);
    return;
  }
  queue.push(m);
  void drain();
});
