/**
 * Bring the ledger up to date with one repository: its snapshot list, and every tree not seen
 * before (unchanged folders are skipped by their tree ID, so a new snapshot of a big library costs
 * only its changed folders).
 */
import { parseTime } from '../core/gojson.js';
import { type Repository } from '../core/repository.js';
import { type TreeNode } from '../core/tree.js';
import { contentId, type Ledger, type LedgerEntry, type LedgerSnapshot } from './ledger.js';

export function entryOf(n: TreeNode): LedgerEntry | undefined {
  if (n.type === 'dir' && n.subtree) return { name: n.name, kind: 'dir', subtree: n.subtree };
  if (n.type !== 'file') return undefined;
  return {
    name: n.name,
    kind: 'file',
    content: contentId(n.content ?? []),
    size: n.size ?? 0,
    mtimeNs: nanos(n.mtime),
    ctimeNs: nanos(n.ctime),
    inode: (n.inode ?? 0n).toString(),
  };
}

function nanos(t: string): string | undefined {
  try {
    return parseTime(t).toString();
  } catch {
    return undefined;
  }
}

export interface SyncResult {
  snapshots: number;
  newSnapshots: number;
  newTrees: number;
}

export async function syncDestination(ledger: Ledger, name: string, repo: Repository, nowMs: number): Promise<SyncResult> {
  ledger.seen(name, repo.config.id, repo.config.chunkerPolynomial.toString(16), nowMs);
  const known = new Map(ledger.snapshots(name).map((s) => [s.id, s]));
  const ids = await repo.list('snapshot');
  const list: LedgerSnapshot[] = [];
  const fresh: LedgerSnapshot[] = [];
  for (const id of ids) {
    const k = known.get(id);
    if (k) {
      list.push(k);
      continue;
    }
    const s = await repo.loadSnapshot(id);
    const entry = { id, time: s.time, timeMs: Number(parseTime(s.time) / 1_000_000n), tree: s.tree, tags: s.tags ?? [], paths: s.paths };
    list.push(entry);
    fresh.push(entry);
  }
  let newTrees = 0;
  if (fresh.length > 0) {
    // No index load up front: loading a tree loads it, and a snapshot of an unchanged library has a
    // root tree the ledger already holds (the index of a 58,833-file library took ~0.25 s to load).
    const walk = async (tree: string): Promise<void> => {
      if (ledger.hasTree(tree)) return;
      const entries = (await repo.loadTree(tree)).map(entryOf).filter((e): e is LedgerEntry => e !== undefined);
      for (const e of entries) if (e.subtree) await walk(e.subtree);
      // Children first: a tree is recorded only once everything below it is, so an interrupted
      // sync never leaves a tree that looks complete but is not.
      ledger.addTree(tree, entries);
      newTrees++;
    };
    for (const s of fresh) await walk(s.tree);
  }
  ledger.setSnapshots(name, list);
  return { snapshots: list.length, newSnapshots: fresh.length, newTrees };
}

export interface Holding {
  /** Newest snapshot holding the content, and the path it had there. */
  snapshot: string;
  timeMs: number;
  path: string;
  tags: string[];
  /** In the newest snapshot of its group (same tags and paths). */
  inLatest: boolean;
}

/** Every content a destination holds, with its newest snapshot and path. */
export function holdings(ledger: Ledger, dest: string): Map<string, Holding> {
  const out = new Map<string, Holding>();
  const snaps = ledger.snapshots(dest); // newest first
  const latestOfGroup = new Set<string>();
  const groups = new Set<string>();
  for (const s of snaps) {
    const g = `${[...s.tags].sort().join(',')}\0${[...s.paths].sort().join('\0')}`;
    if (!groups.has(g)) {
      groups.add(g);
      latestOfGroup.add(s.id);
    }
  }
  // The newest snapshot of each group first, then the rest newest first; a tree seen once needs no
  // second walk, since everything below it is recorded already.
  const ordered = [...snaps.filter((s) => latestOfGroup.has(s.id)), ...snaps.filter((s) => !latestOfGroup.has(s.id))];
  const visited = new Set<string>();
  for (const s of ordered) {
    const inLatest = latestOfGroup.has(s.id);
    const walk = (tree: string, prefix: string): void => {
      if (visited.has(tree)) return;
      visited.add(tree);
      for (const e of ledger.tree(tree)) {
        const p = `${prefix}/${e.name}`;
        if (e.kind === 'dir' && e.subtree) walk(e.subtree, p);
        else if (e.content && !out.has(e.content)) out.set(e.content, { snapshot: s.id, timeMs: s.timeMs, path: p, tags: s.tags, inLatest });
      }
    };
    walk(s.tree, '');
  }
  return out;
}
