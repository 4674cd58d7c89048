/**
 * The in-memory index: where every blob lives (pack, offset, length). Built from all `index/` files;
 * a blob may legally appear in several packs, the first one seen is used.
 */
import { CorruptError } from './errors.js';
import { isID, type ID } from './hash.js';
import { type BlobType, type PackedBlob } from './pack.js';

export interface BlobLocation {
  pack: ID;
  type: BlobType;
  offset: number;
  length: number;
  uncompressedLength?: number;
}

export class MasterIndex {
  private readonly blobs = new Map<ID, BlobLocation>();
  /** Every pack any index names, with its blobs (as the index says). */
  readonly packs = new Map<ID, PackedBlob[]>();

  get(id: ID): BlobLocation | undefined {
    return this.blobs.get(id);
  }

  has(id: ID): boolean {
    return this.blobs.has(id);
  }

  get size(): number {
    return this.blobs.size;
  }

  addPack(pack: ID, blobs: readonly PackedBlob[]): void {
    const known = this.packs.get(pack);
    const entries: (PackedBlob & BlobLocation)[] = [];
    for (const b of blobs) {
      // One object per blob is both the pack's entry and the blob's location: an index holds every
      // blob of the repository, and this halves its objects.
      const e = { type: b.type, id: b.id, offset: b.offset, length: b.length, uncompressedLength: b.uncompressedLength, pack };
      entries.push(e);
      if (!this.blobs.has(b.id)) this.blobs.set(b.id, e);
    }
    if (!known) this.packs.set(pack, entries);
  }

  removePacks(packs: ReadonlySet<ID>): void {
    for (const p of packs) this.packs.delete(p);
    for (const [id, loc] of this.blobs) if (packs.has(loc.pack)) this.blobs.delete(id);
    // Blobs that also live in a surviving pack come back.
    for (const [pack, blobs] of this.packs) for (const b of blobs) if (!this.blobs.has(b.id)) this.addPack(pack, [b]);
  }

  entries(): IterableIterator<[ID, BlobLocation]> {
    return this.blobs.entries();
  }
}

/** Parse an index file's JSON (already decrypted and decompressed) into packs. */
export function decodeIndex(text: string): { packs: { id: ID; blobs: PackedBlob[] }[]; supersedes: ID[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CorruptError('index is not valid JSON');
  }
  // Hand-checked rather than with a schema library: indexes hold millions of entries and this is
  // the hot path of opening a repository.
  const bad = (what: string) => new CorruptError(`index is malformed: ${what}`);
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const obj = raw as { packs?: unknown; supersedes?: unknown };
  if (!Array.isArray(obj.packs)) throw bad('no packs list');
  const supersedes = Array.isArray(obj.supersedes) ? obj.supersedes.filter(isID) : [];
  const packs = obj.packs.map((p: unknown) => {
    const pk = p as { id?: unknown; blobs?: unknown };
    if (!isID(pk.id) || !Array.isArray(pk.blobs)) throw bad('pack without id or blobs');
    const blobs = pk.blobs.map((b: unknown): PackedBlob => {
      const x = b as Record<string, unknown>;
      // Blob IDs are only looked up, never turned into paths, so a length check is enough here;
      // pack IDs (which do become file names) are checked in full above.
      if (typeof x.id !== 'string' || x.id.length !== 64 || (x.type !== 'data' && x.type !== 'tree')) throw bad('blob without id or type');
      const offset = x.offset, length = x.length, ul = x.uncompressed_length;
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || (offset as number) < 0 || (length as number) < 32) throw bad('blob offset/length');
      if (ul !== undefined && ul !== 0 && !Number.isSafeInteger(ul)) throw bad('uncompressed_length');
      const out: PackedBlob = { id: x.id, type: x.type, offset: offset as number, length: length as number };
      if (typeof ul === 'number' && ul > 0) out.uncompressedLength = ul;
      return out;
    });
    return { id: pk.id, blobs };
  });
  return { packs, supersedes };
}

export function encodeIndex(packs: { id: ID; blobs: readonly PackedBlob[] }[], supersedes: ID[] = []): Buffer {
  // JSON.stringify writes exactly what goJson would here (hex IDs, two type names and safe integers
  // need no Go escapes; keys keep their order) without goJson's intermediate strings: an index
  // names every blob of a backup, and its garbage was the largest peak of a backup's memory.
  return Buffer.from(JSON.stringify({
    supersedes: supersedes.length ? supersedes : undefined,
    packs: packs.map((p) => ({
      id: p.id,
      blobs: p.blobs.map((b) => ({ id: b.id, type: b.type, offset: b.offset, length: b.length, uncompressed_length: b.uncompressedLength })),
    })),
  }));
}
