/**
 * The first pass of a backup: a walk that only stats. It yields exact totals for the progress
 * display and a Merkle-style fingerprint per folder — a digest of every entry's metadata and, for
 * subfolders, of their fingerprints — so a folder whose fingerprint matches the last backup is reused
 * whole, without listing it again, reading its files or decoding the parent snapshot.
 *
 * Large trees are split: the folders a few levels down are scanned by worker threads in parallel
 * (stat calls are cheap but there are hundreds of thousands), and the folders above them are then
 * finished on the main thread from their children's results, with the same function.
 */
import { hash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { keepHeapSettings } from '../util/heap-settings.js';

export interface ScanInfo {
  /** Empty when something inside could not be read: such a folder is never reused from a cache. */
  fingerprint: string;
  files: number;
  bytes: number;
  dirs: number;
}

/**
 * A folder's listing as the bytes its fingerprint hashes: per entry 10 stat numbers (u64, little
 * endian), then its name and `extra` (a subfolder's fingerprint, a link's target), each with a u32
 * length. Binary rather than text: turning a dozen BigInts per file into decimal strings was a fifth
 * of the scan's time. One buffer per thread, used as a stack: a subfolder scanned in the middle of
 * its parent's listing appends its own after it, hashes that, and gives the space back.
 *
 * The access time is left out. Reading a file moves it (a photo viewer, a thumbnailer, the first
 * backup itself: with Linux's default `relatime`, the first read after a file is written), and so
 * does listing a folder; with it in, the backup after the first one walked every folder again and
 * stored a new tree for each (58,826 files: 178 instead of ~97 MiB). Every other change to a file
 * or folder, its content included, moves its change time (ctime). A folder kept this way keeps, in
 * the new snapshot, the access times of the backup that stored it.
 */
class Listing {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private u64 = new BigUint64Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >> 3);
  private used = 0;

  /** Where a folder's listing starts. */
  begin(): number {
    return this.used;
  }

  add(name: string, st: BigIntStats, extra: string): void {
    const need = 80 + 8 + 7 + 3 * (name.length + extra.length); // stats, two lengths, alignment, UTF-8 at most
    if (this.used + need > this.buf.length) this.grow(this.used + need);
    const w = this.used >> 3; // entries start 8-aligned
    const u = this.u64;
    u[w] = st.mode; u[w + 1] = st.mtimeNs; u[w + 2] = st.ctimeNs; u[w + 3] = st.uid; u[w + 4] = st.gid;
    u[w + 5] = st.ino; u[w + 6] = st.dev; u[w + 7] = st.size; u[w + 8] = st.nlink; u[w + 9] = st.rdev;
    let at = this.used + 80;
    at = this.text(name, at);
    at = this.text(extra, at);
    const next = (at + 7) & ~7;
    this.buf.fill(0, at, next); // the padding is hashed too
    this.used = next;
  }

  /** The fingerprint of the listing begun at `start`, whose space is then given back. */
  end(start: number, complete: boolean): string {
    // The one-shot hash: a Hash object per folder was ~5% of a scan's time.
    const fp = complete ? hash('sha256', this.buf.subarray(start, this.used), 'hex') : '';
    this.used = start;
    return fp;
  }

  private text(s: string, at: number): number {
    const n = this.buf.write(s, at + 4, 'utf8');
    this.buf.writeUInt32LE(n, at);
    return at + 4 + n;
  }

  private grow(size: number): void {
    const next = Buffer.allocUnsafe(Math.max(size, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
    this.u64 = new BigUint64Array(next.buffer, next.byteOffset, next.length >> 3);
  }
}

const listing = new Listing();

function lstatOrUndefined(p: string): BigIntStats | undefined {
  try {
    return lstatSync(p, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** Where a scan puts its results: a folder's subfolders already there are not scanned again. */
export interface ScanSink {
  get(dir: string): ScanInfo | undefined;
  set(dir: string, info: ScanInfo): void;
}

/**
 * Scan one folder (an absolute, normalized path); subfolders already in `out` are taken from there,
 * the others are scanned (recursively, into `out`). Undefined if the folder cannot be listed.
 */
export function scanDirSync(dir: string, fingerprints: boolean, out: ScanSink): ScanInfo | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  names.sort();
  // `dir` is absolute and normalized (resolved, or built here), so joining is appending: path.join's
  // normalization of every name was ~8% of a scan's time.
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
  const start = fingerprints ? listing.begin() : 0;
  const info: ScanInfo = { fingerprint: '', files: 0, bytes: 0, dirs: 0 };
  let complete = true;
  for (const name of names) {
    const p = prefix + name;
    const st = lstatOrUndefined(p);
    if (!st) {
      complete = false;
      continue;
    }
    let extra = '';
    if (st.isDirectory()) {
      const sub = out.get(p) ?? scanDirSync(p, fingerprints, out);
      if (!sub || !sub.fingerprint) complete = false;
      if (sub) {
        extra = sub.fingerprint;
        info.files += sub.files;
        info.bytes += sub.bytes;
        info.dirs += sub.dirs + 1;
      }
    } else if (st.isFile()) {
      info.files++;
      info.bytes += Number(st.size);
    } else if (st.isSymbolicLink()) {
      try {
        extra = readlinkSync(p);
      } catch {
        complete = false;
      }
    }
    if (fingerprints) listing.add(name, st, extra);
  }
  if (fingerprints) info.fingerprint = listing.end(start, complete);
  out.set(dir, info);
  return info;
}

/** Packed scan results come in pieces of this size, each moved to the main thread whole. */
const packPiece = 256 * 1024;

/**
 * A worker's results, packed as they come: per folder its path (UTF-8, with its length), its
 * fingerprint (32 bytes, or none) and three counts. As a map, 30,000 folders were ~12 MB of
 * strings, objects and arrays on the main thread, and more in the workers' heaps to build and send
 * them; packed they are ~4 MB outside the heaps, moved rather than copied, and a backup of an
 * unchanged library (which looks up only its top folders) never unpacks them. Measured on a backup
 * of an unchanged library of 58,833 files in 30,426 folders: peak 107 -> 98 MiB.
 */
export class ScanPacker implements ScanSink {
  private buf = Buffer.allocUnsafe(0);
  private used = 0;
  private done: Uint8Array[] = [];

  /** `skip`: folders not to pack (a worker's units, which it reports unpacked). */
  constructor(private readonly skip: ReadonlySet<string> = new Set()) {}

  get(): undefined {
    return undefined; // a worker scans each of its folders once
  }

  set(dir: string, info: ScanInfo): void {
    if (this.skip.has(dir)) return;
    const need = 4 + 3 * dir.length + 1 + 32 + 3 * 8;
    if (this.used + need > this.buf.length) {
      this.cut();
      this.buf = Buffer.allocUnsafe(Math.max(need, packPiece));
    }
    const n = this.buf.write(dir, this.used + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.used);
    let at = this.used + 4 + n;
    if (info.fingerprint) {
      this.buf[at] = 32;
      this.buf.write(info.fingerprint, at + 1, 32, 'hex');
      at += 33;
    } else {
      this.buf[at++] = 0;
    }
    at = this.buf.writeDoubleLE(info.files, at);
    at = this.buf.writeDoubleLE(info.bytes, at);
    this.used = this.buf.writeDoubleLE(info.dirs, at);
  }

  private cut(): void {
    if (this.used > 0) this.done.push(this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(0);
    this.used = 0;
  }

  /** The packed pieces so far (each in a buffer of its own, to be transferred). */
  take(): Uint8Array[] {
    this.cut();
    return this.done.splice(0);
  }
}

function* unpack(bytes: Uint8Array): Generator<[string, ScanInfo]> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let at = 0; at < b.length; ) {
    const n = b.readUInt32LE(at);
    const dir = b.toString('utf8', at + 4, at + 4 + n);
    at += 4 + n;
    const fpLen = b[at]!;
    const fingerprint = b.toString('hex', at + 1, at + 1 + fpLen);
    at += 1 + fpLen;
    yield [dir, { fingerprint, files: b.readDoubleLE(at), bytes: b.readDoubleLE(at + 8), dirs: b.readDoubleLE(at + 16) }];
    at += 24;
  }
}

/** Folder path → its scan, with the workers' results kept packed until a folder inside them is looked up. */
export class ScanMap implements ScanSink {
  private readonly map = new Map<string, ScanInfo>();
  private packed: Uint8Array[] = [];

  addPacked(pieces: Uint8Array[]): void {
    this.packed.push(...pieces);
  }

  private get all(): Map<string, ScanInfo> {
    for (const bytes of this.packed.splice(0)) for (const [dir, info] of unpack(bytes)) this.map.set(dir, info);
    return this.map;
  }

  get(dir: string): ScanInfo | undefined {
    return this.map.get(dir) ?? (this.packed.length > 0 ? this.all.get(dir) : undefined);
  }

  /** A folder's scan if it is at hand, without unpacking (the main thread's part of the scan). */
  peek(dir: string): ScanInfo | undefined {
    return this.map.get(dir);
  }

  set(dir: string, info: ScanInfo): void {
    this.map.set(dir, info);
  }

  /**
   * Forget a folder's scan once it has been walked. One still packed stays packed: unpacking every
   * folder's scan to drop one would undo the point (a backup of an unchanged library drops its top).
   */
  delete(dir: string): boolean {
    return this.map.delete(dir);
  }

  get size(): number {
    return this.all.size;
  }

  [Symbol.iterator](): IterableIterator<[string, ScanInfo]> {
    return this.all[Symbol.iterator]();
  }
}

export interface ScanOptions {
  /**
   * Scan on the main thread, one of the top folders at a time, until this settles; what is left
   * then goes to worker threads, one fewer than otherwise, and the main thread keeps a share (see
   * scanInWorkers). For a scan that runs while the repository opens: the key derivation (scrypt)
   * runs on a thread of its own and leaves the main thread idle, and worker threads would add
   * their memory (~10 MiB each) to the derivation's 32 MiB.
   */
  mainThreadUntil?: Promise<unknown>;
  /**
   * With mainThreadUntil: a folder that took longer than this on the main thread (a slow share, a
   * huge folder) hands the rest to worker threads at once, so that the main thread (the repository's
   * opening, Ctrl-C) is never held up for long. Default 200 ms.
   */
  mainThreadSliceMs?: number;
}

export class Scanner {
  readonly dirs = new ScanMap();
  /** Files and bytes of all the paths scanned. */
  files = 0;
  bytes = 0;
  /** How many folders were scanned whole on the main thread (see ScanOptions). */
  mainThreadUnits = 0;

  constructor(private readonly fingerprints: boolean, private readonly workers = Math.min(os.availableParallelism(), 4)) {}

  /**
   * Scan the targets of a backup. The folders are shared out to worker threads at once, so the main
   * thread stays free meanwhile, unless `mainThreadUntil` is given (see ScanOptions).
   */
  async scanPaths(paths: string[], opts: ScanOptions = {}): Promise<this> {
    for (const t of paths) {
      const abs = path.resolve(t);
      const st = lstatOrUndefined(abs);
      if (st?.isDirectory()) {
        const info = await this.scanTree(abs, opts);
        this.files += info?.files ?? 0;
        this.bytes += info?.bytes ?? 0;
      } else if (st?.isFile()) {
        this.files++;
        this.bytes += Number(st.size);
      }
    }
    return this;
  }

  private async scanTree(root: string, opts: ScanOptions): Promise<ScanInfo | undefined> {
    // Go down level by level until there are enough folders to share out; a tree that runs out of
    // subfolders first is small, and is scanned right here.
    const upper: string[] = [];
    let frontier = [root];
    // A few folders per worker are enough to balance; going deeper would only make the main thread
    // stat more of the folders above them.
    while (frontier.length < this.workers * 4) {
      const next: string[] = [];
      for (const d of frontier) {
        const subs = subfolders(d);
        if (subs?.length) {
          upper.push(d);
          next.push(...subs);
        }
      }
      frontier = next;
      if (next.length === 0) break;
    }
    let units = frontier;
    // With mainThreadUntil, the main thread scans until it settles, then keeps a share of what is
    // left (see scanInWorkers); not when it stopped because a folder was slow.
    let mainSliceMs: number | undefined;
    if (opts.mainThreadUntil) {
      const sliceMs = opts.mainThreadSliceMs ?? 200;
      const { left, released } = await this.scanOnMainThread(units, opts.mainThreadUntil, sliceMs);
      units = left;
      if (released) mainSliceMs = sliceMs;
    }
    if (units.length > 0) {
      if (this.workers > 1) await this.scanInWorkers(units, mainSliceMs);
      else this.absorb(scanBatch(units, this.fingerprints));
    }
    // The folders above the units (all of a small tree), deepest first. They need only the units'
    // results, which are at hand unpacked.
    const sink: ScanSink = { get: (d) => this.dirs.peek(d), set: (d, info) => this.dirs.set(d, info) };
    for (const d of upper.reverse()) if (!this.dirs.peek(d)) scanDirSync(d, this.fingerprints, sink);
    return this.dirs.peek(root) ?? scanDirSync(root, this.fingerprints, sink);
  }

  /**
   * Scan units one at a time on this thread, letting other work run between them, until `until`
   * settles or a unit takes longer than `sliceMs`; returns the units left.
   */
  private async scanOnMainThread(units: string[], until: Promise<unknown>, sliceMs: number): Promise<{ left: string[]; released: boolean }> {
    let released = false;
    const release = () => {
      released = true;
    };
    until.then(release, release);
    const left = [...units];
    while (left.length > 0 && !released) {
      if (!(await this.unitOnMainThread(left.shift()!, sliceMs))) break;
    }
    return { left, released };
  }

  /**
   * Scan one unit here, then let other work run; false (and no pause) if it took longer than
   * `sliceMs`: the caller then leaves what is left to worker threads.
   */
  private async unitOnMainThread(unit: string, sliceMs: number): Promise<boolean> {
    const started = performance.now();
    this.absorb(scanBatch([unit], this.fingerprints));
    this.mainThreadUnits++;
    if (performance.now() - started > sliceMs) return false;
    await new Promise((r) => setImmediate(r));
    return true;
  }

  private absorb(r: ScanBatchResult): void {
    for (const [d, info] of r.units) this.dirs.set(d, info);
    this.dirs.addPacked(r.packed);
  }

  /**
   * Scan `units` in worker threads. With `mainSliceMs`, the main thread takes batches too and one
   * worker fewer starts, until one of its units takes longer than that (it then leaves the rest to
   * the workers, as scanOnMainThread does). For the scan that outlasts the key derivation: the main
   * thread was otherwise idle and a worker's start costs CPU. Backup of an unchanged library of
   * 58,833 files on a 2-core machine (tmpfs, interleaved, two sets of 8-10 runs each): median
   * 1.43 -> 1.36 s and 1.69 -> 1.51 s, user CPU ~0.2 s less, peak the same (89-91 MiB).
   */
  private async scanInWorkers(units: string[], mainSliceMs?: number): Promise<void> {
    // A few batches per worker: enough to even out uneven subtrees, few enough that messages stay few.
    const batches: string[][] = Array.from({ length: Math.min(units.length, this.workers * 4) }, () => []);
    const workers = mainSliceMs === undefined ? this.workers : this.workers - 1;
    units.forEach((u, i) => batches[i % batches.length]!.push(u));
    let running = 0;
    const one = () => new Promise<void>((resolve, reject) => {
      running++;
      const w = new Worker(new URL('./scan-worker.js', import.meta.url), { workerData: { fingerprints: this.fingerprints } });
      const feed = () => {
        const batch = batches.shift();
        if (batch === undefined) {
          running--;
          void w.terminate().then(() => resolve());
        } else w.postMessage(batch);
      };
      w.on('message', (r: ScanBatchResult) => {
        this.absorb(r);
        feed();
      });
      w.on('error', reject);
      keepHeapSettings(w);
      feed();
    });
    const onMain = async (sliceMs: number) => {
      for (let batch = batches.shift(); batch !== undefined; batch = batches.shift()) {
        while (batch.length > 0) {
          if (await this.unitOnMainThread(batch.shift()!, sliceMs)) continue;
          if (batch.length > 0) batches.unshift(batch);
          // The workers may have stopped, finding nothing left while this unit ran.
          if (batches.length > 0 && running === 0) await one();
          return;
        }
      }
    };
    const started = Array.from({ length: Math.min(workers, batches.length) }, one);
    await Promise.all(mainSliceMs === undefined ? started : [...started, onMain(mainSliceMs)]);
  }

}

/** A worker's answer to a batch: its units unpacked (the main thread finishes the folders above them), everything below packed. */
export interface ScanBatchResult {
  units: [string, ScanInfo][];
  packed: Uint8Array[];
}

/** Scan whole folders (a batch of units), in a worker thread or on the main thread. */
export function scanBatch(dirs: string[], fingerprints: boolean): ScanBatchResult {
  const packer = new ScanPacker(new Set(dirs));
  const units: [string, ScanInfo][] = [];
  for (const d of dirs) {
    const info = scanDirSync(d, fingerprints, packer);
    if (info) units.push([d, info]);
  }
  return { units, packed: packer.take() };
}

/** The subfolders of a folder (not following links), or undefined if it cannot be listed. */
function subfolders(dir: string): string[] | undefined {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
  } catch {
    return undefined;
  }
}
