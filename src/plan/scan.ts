/**
 * The originals: every regular file in the plan's sources, with its content ID. A file is not read
 * when its size, times and inode match the ledger's record or a node of a backup of that source;
 * only new or changed files are read (and cut with the destinations' chunker, as a backup would).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Chunker } from '../core/chunker.js';
import { firstChunkCut } from '../core/jpeg.js';
import { type Source } from './config.js';
import { contentId, type Ledger, type LedgerEntry, type SourceFileRecord } from './ledger.js';

export interface SourceFile {
  source: string;
  path: string;
  size: number;
  /** Undefined when it could not be read, or when no destination was ever reached (no chunker yet). */
  content?: string;
}

export interface ScanResult {
  files: SourceFile[];
  /** Sources whose folder is missing or unreadable. */
  problems: { source: string; message: string }[];
}

/** Blob IDs of a file of this size (from the caller's stat, as a backup takes it from its scan) as a backup with this polynomial would store them. */
export async function fileBlobs(file: string, pol: bigint, size: number): Promise<string[]> {
  const fh = await open(file, 'r');
  try {
    const c = new Chunker(pol);
    const ids: string[] = [];
    let h = createHash('sha256');
    let pending = 0;
    const buf = Buffer.allocUnsafe(1 << 20);
    let extraCut = -1; // file offset of the first chunk's extra cut (see jpeg.ts), once known
    let offset = 0; // file offset of buf[0]
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      if (extraCut < 0) extraCut = firstChunkCut(size, buf.subarray(0, bytesRead));
      let pos = 0;
      while (pos < bytesRead) {
        const cut = c.next(buf, pos, bytesRead);
        const end = cut < 0 ? bytesRead : cut;
        if (extraCut > 0 && ids.length === 0 && offset + pos < extraCut && extraCut < offset + end) {
          // The extra cut, inside the first chunk: a blob boundary the chunker knows nothing of.
          const m = extraCut - offset;
          h.update(buf.subarray(pos, m));
          ids.push(h.digest('hex'));
          h = createHash('sha256');
          pending = 0;
          pos = m;
        }
        h.update(buf.subarray(pos, end));
        pending += end - pos;
        if (cut >= 0) {
          ids.push(h.digest('hex'));
          h = createHash('sha256');
          pending = 0;
        }
        pos = end;
      }
      offset += bytesRead;
    }
    if (pending > 0) ids.push(h.digest('hex'));
    return ids;
  } finally {
    await fh.close();
  }
}

function same(r: { size?: number; mtimeNs?: string; ctimeNs?: string; inode?: string }, st: BigIntStats): boolean {
  return r.size === Number(st.size) && r.mtimeNs === st.mtimeNs.toString() && r.ctimeNs === st.ctimeNs.toString() && r.inode === st.ino.toString();
}

/** Files of the newest backups of a source, by absolute path, from the ledger's trees. */
function backedUpFiles(ledger: Ledger, dests: readonly string[], src: Source): Map<string, LedgerEntry> {
  const out = new Map<string, LedgerEntry>();
  for (const d of dests) {
    const snap = ledger.snapshots(d).find((s) => s.paths.length === 1 && s.paths[0] === src.path);
    if (!snap) continue;
    const walk = (tree: string, prefix: string): void => {
      for (const e of ledger.tree(tree)) {
        const p = `${prefix}/${e.name}`;
        if (e.kind === 'dir' && e.subtree) walk(e.subtree, p);
        else if (!out.has(p)) out.set(p, e);
      }
    };
    walk(snap.tree, '');
  }
  return out;
}

export async function scanSources(ledger: Ledger, sources: readonly Source[], dests: readonly string[], pol: bigint | undefined): Promise<ScanResult> {
  const files: SourceFile[] = [];
  const problems: ScanResult['problems'] = [];
  const learned: SourceFileRecord[] = [];
  for (const src of sources) {
    let backed: Map<string, LedgerEntry> | undefined;
    const visit = async (p: string, top: boolean): Promise<void> => {
      let st: BigIntStats | undefined;
      try {
        st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
      } catch (err) {
        if (top) problems.push({ source: src.name, message: (err as Error).message });
        return;
      }
      if (!st) {
        if (top) problems.push({ source: src.name, message: `${p} does not exist` });
        return;
      }
      if (st.isDirectory()) {
        let names: string[];
        try {
          names = readdirSync(p).sort();
        } catch (err) {
          problems.push({ source: src.name, message: `${p}: ${(err as Error).message}` });
          return;
        }
        for (const n of names) await visit(path.join(p, n), false);
        return;
      }
      if (!st.isFile()) return;
      const f: SourceFile = { source: src.name, path: p, size: Number(st.size) };
      files.push(f);
      const cached = ledger.sourceFile(p);
      if (cached && same(cached, st)) {
        f.content = cached.content;
        return;
      }
      backed ??= backedUpFiles(ledger, dests, src);
      const node = backed.get(p);
      if (node?.content && same(node, st)) f.content = node.content;
      else if (pol !== undefined) f.content = await fileBlobs(p, pol, f.size).then(contentId, () => undefined);
      if (f.content) {
        learned.push({ path: p, size: f.size, mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), inode: st.ino.toString(), content: f.content });
      }
    };
    await visit(src.path, true);
  }
  ledger.putSourceFiles(learned);
  return { files, problems };
}
