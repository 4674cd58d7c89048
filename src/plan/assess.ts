/**
 * The 3-2-1 verdict, photo by photo. Pure: the originals, what each destination holds and the time
 * come in as arguments. A photo is one content (the same bytes in two albums are one photo). The
 * original in a source is copy 1 on the source's media; each destination holding the content in any
 * snapshot adds one copy on its media, and an offsite one if it is offsite.
 */
import { rhythmDays, type Destination, type Media, type Source } from './config.js';
import { type SourceFile } from './scan.js';
import { type Holding } from './sync.js';

export interface DestinationState {
  config: Destination;
  /** Reached during this run (otherwise its holdings come from the ledger's memory). */
  reachable: boolean;
  /** Why it could not be reached, if it was tried. */
  problem?: string;
  known: boolean;
  lastBackupMs?: number;
  lastSeenMs?: number;
  lastVerifiedMs?: number;
  snapshots: number;
  holdings: Map<string, Holding>;
  /** The password's key is weaker than keepsake makes now (read this run; see isWeakKdf). */
  weakKey?: boolean;
}

export type Reason = 'only-copies' | 'no-offsite' | 'one-media';

export interface PhotoRef {
  content: string;
  paths: string[];
}

export interface RiskGroup {
  reason: Reason | 'destination-overdue';
  /** Stable key: `only-2-copies`, `no-offsite`, `one-media`, `overdue:NAME`. */
  key: string;
  text: string;
  photos: PhotoRef[];
}

export interface DestinationReport {
  name: string;
  media: Media;
  offsite: boolean;
  removable: boolean;
  rhythm: Destination['rhythm'];
  reachable: boolean;
  problem?: string;
  snapshots: number;
  lastBackupMs?: number;
  ageDays?: number;
  overdue: boolean;
  lastSeenMs?: number;
  lastVerifiedMs?: number;
  photosHeld: number;
  weakKey: boolean;
}

export interface DeletedPhoto {
  content: string;
  path: string;
  /** Where it can be restored from: destination, snapshot, path inside it. */
  copies: { destination: string; snapshot: string; path: string }[];
}

export interface Assessment {
  photos: number;
  safe: number;
  atRisk: number;
  destinations: DestinationReport[];
  risks: RiskGroup[];
  deleted: DeletedPhoto[];
}

const day = 86_400_000;

export function assess(sources: readonly Source[], files: readonly SourceFile[], dests: readonly DestinationState[], nowMs: number): Assessment {
  const mediaOf = new Map(sources.map((s) => [s.name, s.media]));
  const photos = new Map<string, { paths: string[]; media: Set<Media> }>();
  for (const f of files) {
    const key = f.content ?? `unread:${f.path}`;
    const p = photos.get(key) ?? { paths: [], media: new Set<Media>() };
    p.paths.push(f.path);
    p.media.add(mediaOf.get(f.source) ?? 'internal-disk');
    photos.set(key, p);
  }
  const groups = new Map<string, RiskGroup>();
  const add = (key: string, reason: RiskGroup['reason'], text: string, ref: PhotoRef) => {
    const g = groups.get(key) ?? { reason, key, text, photos: [] };
    g.photos.push(ref);
    groups.set(key, g);
  };
  let safe = 0;
  for (const [content, p] of photos) {
    const media = new Set(p.media);
    let copies = 1;
    let offsite = false;
    for (const d of dests) {
      if (!d.holdings.has(content)) continue;
      copies++;
      media.add(d.config.media);
      offsite ||= d.config.offsite;
    }
    const ref = { content, paths: [...p.paths].sort() };
    if (copies >= 3 && media.size >= 2 && offsite) safe++;
    if (copies < 3) add(`only-${copies}-cop${copies === 1 ? 'y' : 'ies'}`, 'only-copies', `only ${copies} cop${copies === 1 ? 'y' : 'ies'}`, ref);
    if (!offsite) add('no-offsite', 'no-offsite', 'no offsite copy', ref);
    if (media.size < 2) add('one-media', 'one-media', 'only one kind of media', ref);
  }
  const reports = dests.map((d) => report(d, photos, nowMs));
  for (const r of reports) {
    if (!r.overdue) continue;
    const d = dests.find((x) => x.config.name === r.name)!;
    const missing = [...photos].filter(([c]) => !d.holdings.has(c));
    const what = r.removable ? `${r.media} last connected` : 'last backup';
    const when = r.lastBackupMs === undefined ? 'never backed up' : `${what} ${r.ageDays} days ago`;
    const text = `${r.name}: ${when}; plan says ${r.rhythm}${missing.length ? ` (${missing.length} photos not on it)` : ''}`;
    groups.set(`overdue:${r.name}`, { reason: 'destination-overdue', key: `overdue:${r.name}`, text, photos: missing.map(([c, p]) => ({ content: c, paths: [...p.paths].sort() })) });
  }
  for (const g of groups.values()) g.photos.sort((a, b) => (a.paths[0]! < b.paths[0]! ? -1 : 1));
  return {
    photos: photos.size,
    safe,
    atRisk: photos.size - safe,
    destinations: reports,
    risks: [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    deleted: deletedPhotos(photos, dests),
  };
}

function report(d: DestinationState, photos: Map<string, unknown>, nowMs: number): DestinationReport {
  const ageDays = d.lastBackupMs === undefined ? undefined : Math.floor((nowMs - d.lastBackupMs) / day);
  let held = 0;
  for (const c of photos.keys()) if (d.holdings.has(c)) held++;
  return {
    name: d.config.name,
    media: d.config.media,
    offsite: d.config.offsite,
    removable: d.config.removable,
    rhythm: d.config.rhythm,
    reachable: d.reachable,
    problem: d.problem,
    snapshots: d.snapshots,
    lastBackupMs: d.lastBackupMs,
    ageDays,
    overdue: d.lastBackupMs === undefined || nowMs - d.lastBackupMs > rhythmDays[d.config.rhythm] * day,
    lastSeenMs: d.lastSeenMs,
    lastVerifiedMs: d.lastVerifiedMs,
    photosHeld: held,
    weakKey: d.weakKey ?? false,
  };
}

function deletedPhotos(photos: Map<string, unknown>, dests: readonly DestinationState[]): DeletedPhoto[] {
  const out = new Map<string, DeletedPhoto>();
  for (const d of dests) {
    for (const [content, h] of d.holdings) {
      if (photos.has(content)) continue;
      const x = out.get(content) ?? { content, path: h.path, copies: [] };
      x.copies.push({ destination: d.config.name, snapshot: h.snapshot, path: h.path });
      out.set(content, x);
    }
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
