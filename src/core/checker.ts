/**
 * Check: structure (every snapshot → tree → blob → pack reference resolves; pack headers agree with
 * the index; no pack mixes data and tree blobs) and, optionally, data (every byte of the chosen
 * packs is read back, its hash, MACs and blob IDs verified). Damage is traced back to the snapshots
 * and files it affects, so the user knows what to repair from another copy.
 */
import { randomInt } from 'node:crypto';
import { isNotFound } from '../backend/backend.js';
import { mapLimit } from './concurrency.js';
import { DecodePool } from './decode-pool.js';
import { type ID } from './hash.js';
import { headerReadAhead, parseTrailer, type PackedBlob } from './pack.js';
import { type Repository } from './repository.js';
import { type StoredSnapshot } from './snapshot.js';

export interface CheckOptions {
  readData?: boolean;
  /** Read only this share (0–1] of packs, chosen at random. */
  readDataSubset?: number;
  onProgress?: (p: { phase: string; done: number; total: number }) => void;
  /**
   * Packs already read whole and found to hash to their name, with their sizes (see prehashPacks):
   * read from a local file, they are not hashed again, only checked to be that size.
   */
  verifiedPacks?: ReadonlyMap<ID, number>;
}

export interface CheckProblem {
  kind: 'missing-pack' | 'pack-mismatch' | 'mixed-pack' | 'damaged-pack' | 'damaged-blob' | 'missing-blob' | 'damaged-tree' | 'damaged-snapshot' | 'damaged-index';
  message: string;
  pack?: ID;
  blob?: ID;
}

export interface Affected {
  snapshot: ID;
  path: string;
}

export interface CheckResult {
  ok: boolean;
  problems: CheckProblem[];
  snapshots: number;
  packs: number;
  orphanPacks: number;
  packsRead: number;
  bytesRead: number;
  /** Files that cannot be restored from this repository as it is, by snapshot. */
  affected: Affected[];
}

export async function check(repo: Repository, opts: CheckOptions = {}): Promise<CheckResult> {
  const problems: CheckProblem[] = [];
  // Reading data needs the decode workers: start them now, they load while the structure is checked.
  const pool = opts.readData || opts.readDataSubset !== undefined ? new DecodePool(repo.key) : undefined;
  try {
    return await checkWith(repo, opts, problems, pool);
  } finally {
    await pool?.close();
  }
}

async function checkWith(repo: Repository, opts: CheckOptions, problems: CheckProblem[], pool: DecodePool | undefined): Promise<CheckResult> {
  const progress = opts.onProgress ?? (() => undefined);
  await repo.loadIndex({
    onDamaged: (id, err) => problems.push({ kind: 'damaged-index', message: `index ${id.slice(0, 8)}: ${err.message}` }),
  });
  // Every pack the indexes name, with its blobs as the (first) index says.
  const packs = repo.index.packs;
  const stored = new Map<ID, number>();
  for await (const f of repo.backend.list('pack')) stored.set(f.name, f.size);
  const badBlobs = new Set<ID>();
  const markPack = (pack: ID) => packs.get(pack)?.forEach((b) => badBlobs.add(b.id));

  // Packs read in full have their header checked from those bytes, not with a read of its own.
  const all = [...packs.keys()].filter((p) => stored.has(p));
  const readFully = new Set(pool ? (opts.readDataSubset === undefined ? all : sample(all, opts.readDataSubset)) : []);
  let done = 0;
  await mapLimit([...packs], repo.backend.connections, async ([pack, blobs]) => {
    progress({ phase: 'packs', done: done++, total: packs.size });
    const size = stored.get(pack);
    if (size === undefined) {
      problems.push({ kind: 'missing-pack', pack, message: `pack ${pack.slice(0, 8)} is in the index but not in the repository` });
      markPack(pack);
      return;
    }
    if (new Set(blobs.map((b) => b.type)).size > 1) {
      problems.push({ kind: 'mixed-pack', pack, message: `pack ${pack.slice(0, 8)} mixes data and tree blobs` });
    }
    if (!readFully.has(pack)) await checkHeader(pack, blobs, () => readHeader(repo, pack, size), problems, markPack);
  });

  // Reading the data needs only the index. It runs while this thread walks the snapshots' trees,
  // which kept the decode workers idle for 1.3 s of a check of 58,833 small photos. Its problems
  // are reported after the walk's, as before.
  const dataProblems: CheckProblem[] = [];
  let packsRead = 0;
  let bytesRead = 0;
  let n = 0;
  const reading = pool
    ? mapLimit([...readFully], Math.max(2, repo.backend.connections), async (pack) => {
      const r = await readPack(repo, pool, pack, packs.get(pack)!, opts.verifiedPacks?.get(pack));
      progress({ phase: 'read-data', done: ++n, total: readFully.size });
      packsRead++;
      bytesRead += r.bytes;
      dataProblems.push(...r.problems);
      for (const b of r.bad) badBlobs.add(b);
    })
    : Promise.resolve();
  // Awaited after the walk; should the walk fail first, its failure is the one reported.
  reading.catch(() => undefined);

  const snaps: StoredSnapshot[] = [];
  for (const id of await repo.list('snapshot')) {
    try {
      snaps.push(await repo.loadSnapshot(id));
    } catch (err) {
      problems.push({ kind: 'damaged-snapshot', message: `snapshot ${id.slice(0, 8)}: ${(err as Error).message}` });
    }
  }
  await walkTrees(repo, snaps, problems, badBlobs);
  await reading;
  problems.push(...dataProblems);

  const affected = badBlobs.size > 0 ? await findAffected(repo, snaps, badBlobs) : [];
  return {
    ok: problems.length === 0,
    problems,
    snapshots: snaps.length,
    packs: packs.size,
    orphanPacks: [...stored.keys()].filter((p) => !packs.has(p)).length,
    packsRead,
    bytesRead,
    affected,
  };
}

/** Compare a pack's header with the index; a header that cannot be read damages every blob in it. */
async function checkHeader(pack: ID, blobs: PackedBlob[], read: () => Promise<PackedBlob[]>, problems: CheckProblem[], markPack: (pack: ID) => void): Promise<void> {
  try {
    if (!sameBlobs(await read(), blobs)) {
      problems.push({ kind: 'pack-mismatch', pack, message: `pack ${pack.slice(0, 8)}: its header does not match the index` });
    }
  } catch (err) {
    problems.push({ kind: 'damaged-pack', pack, message: `pack ${pack.slice(0, 8)}: header unreadable: ${(err as Error).message}` });
    markPack(pack);
  }
}

async function readHeader(repo: Repository, pack: ID, size: number): Promise<PackedBlob[]> {
  const n = Math.min(size, headerReadAhead);
  let tail = await repo.backend.load({ type: 'pack', name: pack }, n, size - n);
  let r = parseTrailer(repo.key, tail, size);
  if (!Array.isArray(r)) {
    tail = await repo.backend.load({ type: 'pack', name: pack }, r.need, size - r.need);
    r = parseTrailer(repo.key, tail, size);
    if (!Array.isArray(r)) throw new Error('header length changed between reads');
  }
  return r;
}

function sameBlobs(a: readonly PackedBlob[], b: readonly PackedBlob[]): boolean {
  const key = (x: PackedBlob) => `${x.id}:${x.type}:${x.offset}:${x.length}:${x.uncompressedLength ?? 0}`;
  const sa = new Set(a.map(key));
  return b.every((x) => sa.has(key(x)));
}

function sample<T>(items: T[], share: number): T[] {
  const want = Math.max(1, Math.ceil(items.length * Math.min(1, share)));
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, Math.min(want, copy.length));
}

async function readPack(repo: Repository, pool: DecodePool, pack: ID, blobs: PackedBlob[], verifiedSize?: number): Promise<{ bytes: number; problems: CheckProblem[]; bad: ID[] }> {
  const problems: CheckProblem[] = [];
  const bad: ID[] = [];
  const h = { type: 'pack', name: pack } as const;
  const markBad = () => blobs.forEach((b) => bad.push(b.id));
  // On a local disk the worker reads the pack itself, and the header is read here apart (two small reads).
  const file = repo.backend.localFile?.(h);
  let r = file === undefined ? undefined : await pool.decodeFile(file, 0, 0, blobs, verifiedSize === undefined ? pack : undefined);
  let hashOk: boolean | undefined;
  if (r && !r.readFailed) {
    const size = r.size;
    // A pack hashed before is the same file still if it is the same size: packs are written once.
    hashOk = verifiedSize === undefined ? r.packHashOk : size === verifiedSize;
    await checkHeader(pack, blobs, () => readHeader(repo, pack, size), problems, markBad);
  } else {
    let data: Uint8Array;
    try {
      data = await repo.backend.load(h, 0, 0);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return { bytes: 0, problems: [{ kind: 'missing-pack', pack, message: `pack ${pack.slice(0, 8)} vanished` }], bad: blobs.map((b) => b.id) };
    }
    await checkHeader(pack, blobs, async () => {
      const header = parseTrailer(repo.key, data, data.length);
      if (!Array.isArray(header)) throw new Error('header length does not fit the pack');
      return header;
    }, problems, markBad);
    r = await pool.decode(data, 0, blobs, pack);
    hashOk = r.packHashOk;
  }
  const bytes = r.size;
  if (!hashOk) {
    problems.push({ kind: 'damaged-pack', pack, message: `pack ${pack.slice(0, 8)}: content does not match its name (${bytes} bytes)` });
  }
  blobs.forEach((b, i) => {
    const e = r.errors[i];
    if (e) {
      bad.push(b.id);
      problems.push({ kind: 'damaged-blob', pack, blob: b.id, message: `${b.type} blob ${b.id.slice(0, 8)} in pack ${pack.slice(0, 8)}: ${e}` });
    }
  });
  return { bytes, problems, bad };
}

async function walkTrees(repo: Repository, snaps: StoredSnapshot[], problems: CheckProblem[], badBlobs: Set<ID>): Promise<void> {
  const seen = new Set<ID>();
  const queue: { tree: ID; path: string }[] = snaps.map((s) => ({ tree: s.tree, path: '' }));
  while (queue.length > 0) {
    // Trees of packs already read decode without waiting for anything, so nothing else would run
    // until the walk ends: let the decode workers' replies in between batches (see checkWith).
    await new Promise((resolve) => setImmediate(resolve));
    const batch = queue.splice(0, 64).filter((t) => !seen.has(t.tree) && (seen.add(t.tree), true));
    await mapLimit(batch, repo.backend.connections, async ({ tree, path }) => {
      if (!repo.index.has(tree)) {
        problems.push({ kind: 'missing-blob', blob: tree, message: `tree ${tree.slice(0, 8)} (${path || '/'}) is not in any pack` });
        return;
      }
      let nodes;
      try {
        nodes = await repo.loadTree(tree);
      } catch (err) {
        badBlobs.add(tree);
        problems.push({ kind: 'damaged-tree', blob: tree, message: `tree ${tree.slice(0, 8)} (${path || '/'}): ${(err as Error).message}` });
        return;
      }
      for (const n of nodes) {
        const p = `${path}/${n.name}`;
        if (n.type === 'dir') {
          if (!n.subtree) problems.push({ kind: 'damaged-tree', blob: tree, message: `folder ${p} has no subtree` });
          else queue.push({ tree: n.subtree, path: p });
        } else if (n.type === 'file') {
          for (const id of n.content ?? []) {
            const loc = repo.index.get(id);
            if (!loc || loc.type !== 'data') {
              badBlobs.add(id);
              problems.push({ kind: 'missing-blob', blob: id, message: `file ${p}: data blob ${id.slice(0, 8)} is not in any pack` });
            }
          }
        }
      }
    });
  }
}

/** Every file (and folder whose listing is lost) that uses a bad blob, per snapshot. */
async function findAffected(repo: Repository, snaps: StoredSnapshot[], bad: Set<ID>): Promise<Affected[]> {
  const out: Affected[] = [];
  const visit = async (snapshot: ID, tree: ID, path: string): Promise<void> => {
    if (bad.has(tree)) {
      out.push({ snapshot, path: path || '/' });
      return;
    }
    let nodes;
    try {
      nodes = await repo.loadTree(tree);
    } catch {
      out.push({ snapshot, path: path || '/' });
      return;
    }
    for (const n of nodes) {
      const p = `${path}/${n.name}`;
      if (n.type === 'dir' && n.subtree) await visit(snapshot, n.subtree, p);
      else if (n.type === 'file' && n.content?.some((id) => bad.has(id))) out.push({ snapshot, path: p });
    }
  };
  for (const s of snaps) await visit(s.id, s.tree, '');
  return out;
}
