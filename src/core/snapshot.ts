/** Snapshots: the root of one backup, stored as JSON in `snapshots/<id>`. */
import { z } from 'zod';
import { CorruptError } from './errors.js';
import { goJson, parseTime, type GoValue, type Nanos } from './gojson.js';
import { isID, type ID } from './hash.js';

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

const idSchema = z.string().refine(isID, 'not an ID');

const snapshotSchema = z.object({
  time: z.string(),
  parent: idSchema.nullish(),
  tree: idSchema,
  paths: z.array(z.string()).nullable(),
  hostname: z.string().optional(),
  username: z.string().optional(),
  uid: z.number().int().nonnegative().optional(),
  gid: z.number().int().nonnegative().optional(),
  excludes: z.array(z.string()).nullish(),
  tags: z.array(z.string()).nullish(),
  original: idSchema.nullish(),
  program_version: z.string().optional(),
});

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
  const r = snapshotSchema.safeParse(raw);
  if (!r.success) throw new CorruptError(`snapshot ${id.slice(0, 8)} is malformed: ${r.error.issues[0]?.message}`);
  const d = r.data;
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
