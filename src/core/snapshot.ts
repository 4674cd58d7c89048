/** Snapshots: the root of one backup, stored as JSON in `snapshots/<id>`. */
import { CorruptError } from './errors.js';
import { goJson, parseTime, type GoValue, type Nanos } from './gojson.js';
import { isID, type ID } from './hash.js';
import { arrayOf, firstProblem, isNonNegativeInt, isString, type Check, type Fields } from './shape.js';

export interface Snapshot {
  time: string;
  parent?: ID;
  tree: ID;
  paths: string[];
  hostname?: string;
  username?: string;
  uid?: number;
  gid?: number;
  excludes?: string[];
  tags?: string[];
  original?: ID;
  programVersion?: string;
}

export interface StoredSnapshot extends Snapshot {
  id: ID;
}

const anID: Check = (v) => isID(v);
const strings = arrayOf(isString);

const snapshotShape: Fields = {
  time: isString,
  parent: [anID, 'nullish'],
  tree: anID,
  paths: [strings, 'nullable'],
  hostname: [isString, 'optional'],
  username: [isString, 'optional'],
  uid: [isNonNegativeInt, 'optional'],
  gid: [isNonNegativeInt, 'optional'],
  excludes: [strings, 'nullish'],
  tags: [strings, 'nullish'],
  original: [anID, 'nullish'],
  program_version: [isString, 'optional'],
};

/** A snapshot file as restic writes it (JSON field names). */
interface SnapshotFile {
  time: string;
  parent?: ID | null;
  tree: ID;
  paths: string[] | null;
  hostname?: string;
  username?: string;
  uid?: number;
  gid?: number;
  excludes?: string[] | null;
  tags?: string[] | null;
  original?: ID | null;
  program_version?: string;
}

export function encodeSnapshot(s: Snapshot): Buffer {
  const v: GoValue = {
    time: s.time,
    parent: s.parent,
    tree: s.tree,
    paths: s.paths,
    hostname: s.hostname || undefined,
    username: s.username || undefined,
    uid: s.uid || undefined,
    gid: s.gid || undefined,
    excludes: s.excludes?.length ? s.excludes : undefined,
    tags: s.tags?.length ? s.tags : undefined,
    original: s.original,
    program_version: s.programVersion || undefined,
  };
  return Buffer.from(goJson(v));
}

export function decodeSnapshot(id: ID, bytes: Uint8Array): StoredSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new CorruptError(`snapshot ${id.slice(0, 8)} is not valid JSON`);
  }
  const problem = firstProblem(raw, snapshotShape);
  if (problem) throw new CorruptError(`snapshot ${id.slice(0, 8)} is malformed: ${problem}`);
  const d = raw as SnapshotFile;
  return {
    id,
    time: d.time,
    parent: d.parent ?? undefined,
    tree: d.tree,
    paths: d.paths ?? [],
    hostname: d.hostname,
    username: d.username,
    uid: d.uid,
    gid: d.gid,
    excludes: d.excludes ?? undefined,
    tags: d.tags ?? undefined,
    original: d.original ?? undefined,
    programVersion: d.program_version,
  };
}

export function snapshotTime(s: Snapshot): Nanos {
  return parseTime(s.time);
}

export function newestFirst(a: Snapshot, b: Snapshot): number {
  const ta = snapshotTime(a);
  const tb = snapshotTime(b);
  return ta < tb ? 1 : ta > tb ? -1 : 0;
}

export interface SnapshotFilter {
  hosts?: string[];
  tags?: string[];
  paths?: string[];
}

export function matches(s: Snapshot, f: SnapshotFilter): boolean {
  if (f.hosts?.length && !f.hosts.includes(s.hostname ?? '')) return false;
  if (f.tags?.length && !f.tags.every((t) => s.tags?.includes(t))) return false;
  if (f.paths?.length) {
    const a = [...s.paths].sort().join('\0');
    const b = [...f.paths].sort().join('\0');
    if (a !== b) return false;
  }
  return true;
}
