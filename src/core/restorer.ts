/**
 * Restore: plan every file of the selection, then read each needed pack once (one ranged read
 * spanning its needed blobs) and write every blob to all the places that use it. Each blob is
 * verified against its ID before it is written. Metadata (mode, times) is set once content is in
 * place, folders last so their mtimes stay as stored.
 *
 * Safety: names in trees come from the repository, which may be damaged or hostile. A name that is
 * `..`, contains `/` or NUL, or is empty is refused; files are created with O_NOFOLLOW and folders
 * are checked to be real folders, so nothing is ever written outside the target.
 */
import { chmodSync, closeSync, constants as fsc, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync, promises as fs, utimesSync } from 'node:fs';
import path from 'node:path';
import { KeepsakeError } from './errors.js';
import { posixPerm } from './fs-node.js';
import { parseTime } from './gojson.js';
import { hashID, type ID } from './hash.js';
import { mapLimit } from './concurrency.js';
import { plainLength } from './blob.js';
import { DecodePool } from './decode-pool.js';
import { PathMatcher } from './glob.js';
import { type Repository } from './repository.js';
import { isSafeName, type TreeNode } from './tree.js';

export interface RestoreOptions {
  /** Tree to restore (a snapshot's root or a subtree) and the snapshot path it stands for. */
  tree: ID;
  treePath: string;
  target: string;
  include?: string[];
  overwrite?: boolean;
  onProgress?: (p: RestoreProgress) => void;
  onWarning?: (path: string, message: string) => void;
}

export interface RestoreProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface RestoreSummary {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  skippedIdentical: number;
  errors: { path: string; message: string }[];
}

/**
 * What a restore keeps of a file's or folder's node until its metadata is set at the end. A decoded
 * node has a dozen more fields (owner names, inode, device, ctime, the times as text): kept whole for
 * every entry, a restore of 58,833 photos in 30,426 folders held ~85 MB of them.
 */
interface Kept {
  type: TreeNode['type'];
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  content?: ID[] | null;
  /** Seconds for utimes; undefined if the stored time cannot be read (reported when it is set). */
  atime?: number;
  mtime?: number;
}

/**
 * Node's utimes takes seconds as a double (exact to ~0.24 µs today) and libuv then truncates to whole
 * microseconds. Aim at the middle of the stored microsecond so the truncation lands on it exactly,
 * instead of one microsecond early when the double rounds down.
 */
function utimeSeconds(t: string): number | undefined {
  try {
    const ns = parseTime(t);
    const sec = ns / 1_000_000_000n;
    const us = (ns - sec * 1_000_000_000n) / 1000n;
    return Number(sec) + (Number(us) + 0.5) / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * A flat copy of a joined string. path.join builds a path from pieces (V8 keeps them as a tree of
 * ~6 "cons" strings, each holding on to its parts); a restore keeps every file's and folder's path
 * to the end: 576,000 such pieces, 17.6 MB, for 58,833 photos in 30,426 folders.
 */
function flat(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

function keep(node: TreeNode): Kept {
  return {
    type: node.type, mode: node.mode, uid: node.uid, gid: node.gid, size: node.size, content: node.content,
    atime: utimeSeconds(node.atime), mtime: utimeSeconds(node.mtime),
  };
}

interface PlannedFile {
  dest: string;
  node: Kept;
  /** Created (empty) and waiting for its content; the decode workers open it for each write. */
  created?: boolean;
  remaining: number;
}

interface Use {
  file: PlannedFile;
  offset: number;
}

const fileFlags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;

export class Restorer {
  private readonly files: PlannedFile[] = [];
  private readonly dirs: { dest: string; node: Kept }[] = [];
  private readonly others: { dest: string; node: TreeNode }[] = [];
  private readonly matcher: PathMatcher;
  private pool: DecodePool | undefined;
  private readonly summary: RestoreSummary = { files: 0, dirs: 0, symlinks: 0, bytes: 0, skippedIdentical: 0, errors: [] };
  /** The paths in summary.errors: looked up per file, and a full disk gives every file an error. */
  private readonly failedPaths = new Set<string>();
  private readonly progress: RestoreProgress = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };

  constructor(private readonly repo: Repository, private readonly opts: RestoreOptions) {
    this.matcher = new PathMatcher(opts.include ?? []);
  }

  async run(): Promise<RestoreSummary> {
    const target = path.resolve(this.opts.target);
    // The workers start while the snapshot is read: they take a moment to load.
    this.pool = new DecodePool(this.repo.key);
    try {
      // Plan first: a hostile or damaged tree is refused before anything is created.
      await this.plan(this.opts.tree, this.opts.treePath.replace(/\/+$/, ''), target, this.matcher.empty);
      await fs.mkdir(target, { recursive: true });
      await eachYielding(this.dirs, (d) => this.makeDir(d.dest));
      await this.prepareFiles();
      await this.writeContent();
    } finally {
      await this.pool.close();
    }
    for (const o of this.others) await this.makeOther(o.dest, o.node);
    // Setting a file's times does not touch its folder's, so files and links go in parallel; folders
    // come last, once nothing more is created in them.
    const links = this.others.filter((o) => o.node.type === 'symlink').map((o) => ({ dest: o.dest, node: keep(o.node) }));
    const entries = [...this.files, ...links].filter((e) => !this.failed(e.dest));
    await eachYielding(entries, (e) => this.setMeta(e.dest, e.node));
    await eachYielding(this.dirs, (d) => this.setMeta(d.dest, d.node));
    return this.summary;
  }

  private failed(dest: string): boolean {
    return this.failedPaths.has(dest);
  }

  private error(dest: string, message: string): void {
    this.failedPaths.add(dest);
    this.summary.errors.push({ path: dest, message });
    this.opts.onWarning?.(dest, message);
  }

  private async plan(tree: ID, snapPath: string, dest: string, selected: boolean): Promise<boolean> {
    let any = false;
    for (const node of await this.repo.loadTree(tree)) {
      if (!isSafeName(node.name)) {
        throw new KeepsakeError('unsafe-path', `the snapshot holds an unsafe name ${JSON.stringify(node.name)} in ${snapPath || '/'}; refusing to restore it`, {
          hint: 'the repository is damaged or was tampered with; run `keepsake check`',
        });
      }
      const p = `${snapPath}/${node.name}`;
      const d = flat(path.join(dest, node.name));
      const take = selected || this.matcher.matches(p);
      if (node.type === 'dir') {
        if (!node.subtree) continue;
        if (!take && !this.matcher.couldMatchBelow(p)) continue;
        const index = this.dirs.length;
        this.dirs.push({ dest: d, node: keep(node) });
        const inner = await this.plan(node.subtree, p, d, take);
        if (!take && !inner) this.dirs.splice(index, 1);
        any ||= take || inner;
      } else if (take) {
        any = true;
        if (node.type === 'file') {
          this.files.push({ dest: d, node: keep(node), remaining: node.content?.length ?? 0 });
          this.progress.filesTotal++;
          this.progress.bytesTotal += node.size ?? 0;
        } else this.others.push({ dest: d, node });
      }
    }
    return any;
  }

  private makeDir(dest: string): void {
    mkdirSync(dest, { recursive: true });
    const st = lstatSync(dest);
    if (!st.isDirectory()) {
      throw new KeepsakeError('unsafe-path', `${dest} exists and is not a folder (a symlink?); refusing to restore into it`);
    }
    this.summary.dirs++;
  }

  /** Create each file, empty; one that exists is skipped if identical, refused if different (unless overwrite), else emptied. */
  private async prepareFiles(): Promise<void> {
    const existing: PlannedFile[] = [];
    await eachYielding(this.files, (f) => {
      try {
        closeSync(openSync(f.dest, fileFlags | fsc.O_EXCL, 0o600));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        existing.push(f);
        return;
      }
      f.created = true;
      if (f.remaining === 0) return this.finishFile(f);
    });
    await mapLimit(existing, 8, async (f) => {
      const st = await fs.lstat(f.dest).catch(() => undefined);
      if (st) {
        if (st.isFile() && (await this.identical(f))) {
          f.remaining = 0;
          this.summary.skippedIdentical++;
          this.fileDone(f);
          return;
        }
        if (!this.opts.overwrite) {
          this.error(f.dest, 'exists and differs from the snapshot; not overwritten (use --overwrite)');
          f.remaining = 0;
          return;
        }
        if (!st.isFile()) await fs.rm(f.dest, { recursive: true });
      }
      await (await fs.open(f.dest, fileFlags, 0o600)).close();
      f.created = true;
      if (f.remaining === 0) await this.finishFile(f);
    });
  }

  private async identical(f: PlannedFile): Promise<boolean> {
    const content = f.node.content ?? [];
    const st = await fs.stat(f.dest);
    if (st.size !== (f.node.size ?? 0)) return false;
    const h = await fs.open(f.dest, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      let off = 0;
      for (const id of content) {
        const loc = this.repo.index.get(id);
        if (!loc) return false;
        const len = loc.uncompressedLength ?? loc.length - 32;
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await h.read(buf, 0, len, off);
        if (bytesRead !== len || hashID(buf) !== id) return false;
        off += len;
      }
      return off === st.size;
    } finally {
      await h.close();
    }
  }

  private async writeContent(): Promise<void> {
    // pack -> blob -> places it goes
    const byPack = new Map<ID, Map<ID, Use[]>>();
    for (const f of this.files) {
      if (!f.created) continue;
      let offset = 0;
      for (const id of f.node.content ?? []) {
        const loc = this.repo.index.get(id);
        if (!loc || loc.type !== 'data') {
          throw new KeepsakeError('corrupt', `data blob ${id.slice(0, 8)} of ${f.dest} is not in the repository index`, {
            hint: 'run `keepsake check`; another copy of this photo may exist in another destination',
          });
        }
        let blobs = byPack.get(loc.pack);
        if (!blobs) byPack.set(loc.pack, (blobs = new Map()));
        let uses = blobs.get(id);
        if (!uses) blobs.set(id, (uses = []));
        uses.push({ file: f, offset });
        offset += loc.uncompressedLength ?? loc.length - 32;
      }
    }
    await mapLimit([...byPack], Math.max(2, this.repo.backend.connections), ([pack, blobs]) => this.restorePack(pack, blobs));
  }

  private async restorePack(pack: ID, blobs: Map<ID, Use[]>): Promise<void> {
    const locs = [...blobs.keys()].map((id) => ({ id, ...this.repo.index.get(id)! }));
    locs.sort((a, b) => a.offset - b.offset);
    const start = locs[0]!.offset;
    const last = locs[locs.length - 1]!;
    const h = { type: 'pack', name: pack } as const;
    const span = last.offset + last.length - start;
    // The worker verifies each blob and writes it straight into every file that uses it; on a local
    // disk it reads the pack itself.
    const requests = locs.map((l) => ({ ...l, writes: blobs.get(l.id)!.map((u) => ({ path: u.file.dest, position: u.offset })) }));
    const file = this.repo.backend.localFile?.(h);
    let reply = file === undefined ? undefined : await this.pool!.decodeFile(file, start, span, requests);
    if (!reply || reply.readFailed) reply = await this.pool!.decode(await this.repo.backend.load(h, span, start), start, requests);
    const { errors, unwritten = [] } = reply;
    for (const w of unwritten) if (!this.failed(w.path)) this.error(w.path, `could not be written: ${w.message}`);
    for (const [i, { id, uncompressedLength, length }] of locs.entries()) {
      const damage = errors[i];
      for (const use of blobs.get(id)!) {
        const f = use.file;
        if (damage) {
          // The rest of the restore goes on; this file is reported, and left out of the metadata pass.
          if (!this.failed(f.dest)) this.error(f.dest, `damaged in the repository (pack ${pack.slice(0, 8)}: ${damage}); restore it from another copy`);
        } else this.progress.bytesDone += plainLength({ length, uncompressedLength });
        await this.usedOnce(f);
      }
    }
    this.opts.onProgress?.({ ...this.progress });
  }

  /** One more of a file's blobs is in place (or failed); after the last, the file is done. */
  private async usedOnce(f: PlannedFile): Promise<void> {
    if (--f.remaining === 0) await this.finishFile(f);
  }


  private async finishFile(f: PlannedFile): Promise<void> {
    f.created = false;
    if (this.failed(f.dest)) {
      // A file with a damaged part is not left behind looking like a good copy.
      await fs.rm(f.dest, { force: true });
      return;
    }
    this.summary.files++;
    this.summary.bytes += f.node.size ?? 0;
    this.fileDone(f);
  }

  private fileDone(_f: PlannedFile): void {
    this.progress.filesDone++;
    this.opts.onProgress?.({ ...this.progress });
  }

  private async makeOther(dest: string, node: TreeNode): Promise<void> {
    if (node.type !== 'symlink') {
      this.error(dest, `a ${node.type} is not restored`);
      return;
    }
    const st = await fs.lstat(dest).catch(() => undefined);
    if (st) {
      if (st.isSymbolicLink() && (await fs.readlink(dest)) === node.linktarget) return;
      if (!this.opts.overwrite) {
        this.error(dest, 'exists and differs from the snapshot; not overwritten (use --overwrite)');
        return;
      }
      await fs.rm(dest, { recursive: true });
    }
    await fs.symlink(node.linktarget ?? '', dest);
    this.summary.symlinks++;
  }

  private setMeta(dest: string, node: Kept): void {
    try {
      // chown first: it clears setuid/setgid bits that chmod then puts back.
      if (process.getuid?.() === 0) {
        try {
          lchownSync(dest, node.uid, node.gid);
        } catch {
          // an owner that cannot be set is not an error
        }
      }
      if (node.type !== 'symlink') chmodSync(dest, posixPerm(node.mode));
      if (node.atime === undefined || node.mtime === undefined) throw new Error('the snapshot holds an unreadable time');
      if (node.type === 'symlink') lutimesSync(dest, node.atime, node.mtime);
      else utimesSync(dest, node.atime, node.mtime);
    } catch (err) {
      this.error(dest, `could not set metadata: ${(err as Error).message}`);
    }
  }
}

/**
 * Run `fn` over `items`, yielding to the event loop every 256 (for signals and progress). A
 * restore makes its folders, files and metadata with synchronous calls, a few microseconds each,
 * where the asynchronous ones cost a thread-pool round trip each (a restore of 58,833 photos in
 * 30,426 folders spent 1.9 s creating the folders one awaited call at a time, and 1.7 s on times
 * and modes 16 at a time).
 */
async function eachYielding<T>(items: readonly T[], fn: (item: T) => unknown): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % 256 === 0) await new Promise((r) => setImmediate(r));
    await fn(items[i]!);
  }
}
