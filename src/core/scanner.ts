/**
 * The first pass of a backup: a synchronous walk that only stats. It yields exact totals for the
 * progress display and a Merkle-style fingerprint per folder — a digest of every entry's metadata
 * and, for subfolders, of their fingerprints — so a folder whose fingerprint matches the last backup
 * is reused whole, without listing it again, reading its files or decoding the parent snapshot.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import path from 'node:path';

export interface ScanInfo {
  /** Empty when something inside could not be read: such a folder is never reused from a cache. */
  fingerprint: string;
  files: number;
  bytes: number;
  dirs: number;
}

export function statLine(name: string, st: BigIntStats): string {
  return `${name}\0${st.mode}\0${st.mtimeNs}\0${st.atimeNs}\0${st.ctimeNs}\0${st.uid}\0${st.gid}\0${st.ino}\0${st.dev}\0${st.size}\0${st.nlink}\0${st.rdev}`;
}

export class Scanner {
  readonly dirs = new Map<string, ScanInfo>();
  /** Files and bytes of all the paths scanned. */
  files = 0;
  bytes = 0;
  private sinceYield = 0;

  constructor(private readonly fingerprints: boolean) {}

  /**
   * Scan the targets of a backup. It yields to the event loop now and then, so it can run while the
   * repository is being opened (the password's key derivation runs on another thread meanwhile).
   */
  async scanPaths(paths: string[]): Promise<this> {
    for (const t of paths) {
      const abs = path.resolve(t);
      let st: BigIntStats | undefined;
      try {
        st = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
      } catch {
        st = undefined; // reported by the backup itself
      }
      if (st?.isDirectory()) {
        const info = await this.scanDir(abs);
        this.files += info?.files ?? 0;
        this.bytes += info?.bytes ?? 0;
      } else if (st?.isFile()) {
        this.files++;
        this.bytes += Number(st.size);
      }
    }
    return this;
  }

  /** Scan a folder (recursively); undefined if it cannot be listed. */
  async scanDir(dir: string): Promise<ScanInfo | undefined> {
    if (++this.sinceYield >= 64) {
      this.sinceYield = 0;
      await new Promise((r) => setImmediate(r));
    }
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return undefined;
    }
    names.sort();
    const h = this.fingerprints ? createHash('sha256') : undefined;
    const info: ScanInfo = { fingerprint: '', files: 0, bytes: 0, dirs: 0 };
    let complete = true;
    for (const name of names) {
      const p = path.join(dir, name);
      let st: BigIntStats | undefined;
      try {
        st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st) {
        complete = false;
        continue;
      }
      let extra = '';
      if (st.isDirectory()) {
        const sub = await this.scanDir(p);
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
      h?.update(`${statLine(name, st)}\0${extra}\n`);
    }
    if (h && complete) info.fingerprint = h.digest('hex');
    this.dirs.set(dir, info);
    return info;
  }
}
