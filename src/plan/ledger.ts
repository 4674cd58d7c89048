/**
 * The ledger: a local SQLite catalog of what every destination holds, so that `status` can answer
 * for a drive that sits unplugged in a drawer. Everything in it except verification times and the
 * last time a destination was reached can be rebuilt from the repositories alone: snapshots, and the
 * trees they point to. Trees are content-addressed, so one row set per tree ID serves every snapshot
 * and every destination that has that folder unchanged.
 *
 * A file's content ID is SHA-256 over its blob IDs (32 bytes each, in order): the same photo has the
 * same ID in every destination that shares the chunker polynomial, without reading any data.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sha256 } from '../core/hash.js';

export function contentId(blobs: readonly string[]): string {
  return sha256(Buffer.from(blobs.join(''), 'hex')).toString('hex');
}

/** $XDG_STATE_HOME/keepsake (default ~/.local/state/keepsake). */
export function stateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || path.join(env.HOME ?? '/', '.local', 'state');
  return path.join(base, 'keepsake');
}

export function ledgerPath(env: NodeJS.ProcessEnv): string {
  return path.join(stateDir(env), 'ledger.sqlite');
}

export interface LedgerEntry {
  name: string;
  kind: 'file' | 'dir';
  content?: string;
  size?: number;
  subtree?: string;
  /** Nanoseconds since the epoch, as decimal strings (to match source files without reading them). */
  mtimeNs?: string;
  ctimeNs?: string;
  inode?: string;
}

export interface LedgerSnapshot {
  id: string;
  time: string;
  timeMs: number;
  tree: string;
  tags: string[];
  paths: string[];
}

export interface DestinationRecord {
  name: string;
  repoId: string;
  polynomial: string;
  lastSeenMs?: number;
  lastVerifiedMs?: number;
}

export interface SourceFileRecord {
  path: string;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: string;
  content: string;
}

const schema = `
CREATE TABLE IF NOT EXISTS destinations (name TEXT PRIMARY KEY, repo_id TEXT NOT NULL, polynomial TEXT NOT NULL,
  last_seen INTEGER, last_verified INTEGER);
CREATE TABLE IF NOT EXISTS snapshots (dest TEXT NOT NULL, id TEXT NOT NULL, time TEXT NOT NULL, time_ms INTEGER NOT NULL,
  tree TEXT NOT NULL, tags TEXT NOT NULL, paths TEXT NOT NULL, PRIMARY KEY (dest, id));
CREATE TABLE IF NOT EXISTS trees (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS tree_entries (tree TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, content TEXT,
  size INTEGER, subtree TEXT, mtime_ns TEXT, ctime_ns TEXT, inode TEXT, PRIMARY KEY (tree, name));
CREATE TABLE IF NOT EXISTS source_files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL,
  ctime_ns TEXT NOT NULL, inode TEXT NOT NULL, content TEXT NOT NULL);
`;

interface EntryRow { name: string; kind: string; content: string | null; size: number | null; subtree: string | null; mtime_ns: string | null; ctime_ns: string | null; inode: string | null }
interface SnapshotRow { id: string; time: string; time_ms: number; tree: string; tags: string; paths: string }
interface DestRow { name: string; repo_id: string; polynomial: string; last_seen: number | null; last_verified: number | null }

export class Ledger {
  private readonly treeCache = new Map<string, LedgerEntry[]>();

  private constructor(private readonly db: Database.Database, readonly file: string, readonly created: boolean) {}

  /** Open (creating if needed) the catalog; `created` tells the caller it must be filled from the repositories. */
  static open(file: string): Ledger {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    const created = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'destinations'").get() as { n: number }).n === 0;
    db.exec(schema);
    return new Ledger(db, file, created);
  }

  close(): void {
    this.db.close();
  }

  destination(name: string): DestinationRecord | undefined {
    const r = this.db.prepare('SELECT * FROM destinations WHERE name = ?').get(name) as DestRow | undefined;
    if (!r) return undefined;
    return { name: r.name, repoId: r.repo_id, polynomial: r.polynomial, lastSeenMs: r.last_seen ?? undefined, lastVerifiedMs: r.last_verified ?? undefined };
  }

  /** Record that a destination was reached; a different repository under the same name starts afresh. */
  seen(name: string, repoId: string, polynomial: string, atMs: number): void {
    const prev = this.destination(name);
    this.db.transaction(() => {
      if (prev && prev.repoId !== repoId) {
        this.db.prepare('DELETE FROM snapshots WHERE dest = ?').run(name);
        this.db.prepare('DELETE FROM destinations WHERE name = ?').run(name);
      }
      this.db.prepare(`INSERT INTO destinations (name, repo_id, polynomial, last_seen) VALUES (?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET polynomial = excluded.polynomial, last_seen = excluded.last_seen`).run(name, repoId, polynomial, atMs);
    })();
  }

  markVerified(name: string, atMs: number): void {
    this.db.prepare('UPDATE destinations SET last_verified = ? WHERE name = ?').run(atMs, name);
  }

  snapshots(dest: string): LedgerSnapshot[] {
    const rows = this.db.prepare('SELECT * FROM snapshots WHERE dest = ? ORDER BY time_ms DESC, id').all(dest) as SnapshotRow[];
    return rows.map((r) => ({ id: r.id, time: r.time, timeMs: r.time_ms, tree: r.tree, tags: JSON.parse(r.tags) as string[], paths: JSON.parse(r.paths) as string[] }));
  }

  /** Make the destination's snapshot list exactly `list` (forgotten snapshots disappear). */
  setSnapshots(dest: string, list: readonly LedgerSnapshot[]): void {
    const ins = this.db.prepare('INSERT OR REPLACE INTO snapshots (dest, id, time, time_ms, tree, tags, paths) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM snapshots WHERE dest = ?').run(dest);
      for (const s of list) ins.run(dest, s.id, s.time, s.timeMs, s.tree, JSON.stringify(s.tags), JSON.stringify(s.paths));
    })();
  }

  hasTree(id: string): boolean {
    return this.treeCache.has(id) || this.db.prepare('SELECT 1 FROM trees WHERE id = ?').get(id) !== undefined;
  }

  addTree(id: string, entries: readonly LedgerEntry[]): void {
    const ins = this.db.prepare(`INSERT OR REPLACE INTO tree_entries (tree, name, kind, content, size, subtree, mtime_ns, ctime_ns, inode)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const e of entries) ins.run(id, e.name, e.kind, e.content ?? null, e.size ?? null, e.subtree ?? null, e.mtimeNs ?? null, e.ctimeNs ?? null, e.inode ?? null);
      this.db.prepare('INSERT OR IGNORE INTO trees (id) VALUES (?)').run(id);
    })();
  }

  tree(id: string): LedgerEntry[] {
    const hit = this.treeCache.get(id);
    if (hit) return hit;
    const rows = this.db.prepare('SELECT * FROM tree_entries WHERE tree = ?').all(id) as EntryRow[];
    const out = rows.map((r): LedgerEntry => ({
      name: r.name,
      kind: r.kind === 'dir' ? 'dir' : 'file',
      content: r.content ?? undefined,
      size: r.size ?? undefined,
      subtree: r.subtree ?? undefined,
      mtimeNs: r.mtime_ns ?? undefined,
      ctimeNs: r.ctime_ns ?? undefined,
      inode: r.inode ?? undefined,
    }));
    this.treeCache.set(id, out);
    return out;
  }

  sourceFile(p: string): SourceFileRecord | undefined {
    const r = this.db.prepare('SELECT * FROM source_files WHERE path = ?').get(p) as
      { path: string; size: number; mtime_ns: string; ctime_ns: string; inode: string; content: string } | undefined;
    return r && { path: r.path, size: r.size, mtimeNs: r.mtime_ns, ctimeNs: r.ctime_ns, inode: r.inode, content: r.content };
  }

  putSourceFiles(files: readonly SourceFileRecord[]): void {
    const ins = this.db.prepare('INSERT OR REPLACE INTO source_files (path, size, mtime_ns, ctime_ns, inode, content) VALUES (?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const f of files) ins.run(f.path, f.size, f.mtimeNs, f.ctimeNs, f.inode, f.content);
    })();
  }
}
