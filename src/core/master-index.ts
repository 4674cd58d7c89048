/**
 * The in-memory index: where every blob lives (pack, offset, length). Built from all `index/` files;
 * a blob may legally appear in several packs, the first one seen is used.
 */
import { CorruptError } from './errors.js';
import { isID, type ID } from './hash.js';
import { type BlobType, type PackedBlob } from './pack.js';
import { grown } from '../util/typed-array.js';

export interface BlobLocation {
  pack: ID;
  type: BlobType;
  offset: number;
  length: number;
  uncompressedLength?: number;
}

/**
 * The blobs of every pack, as rows of typed arrays rather than one object per blob: a repository's
 * index holds every blob it stores (about one per MiB of photos, plus trees), and objects cost
 * ~200 bytes each and weigh on every garbage collection; a row costs ~60 bytes (32 of them the binary
 * ID) and nothing to the collector. A hash table of row numbers finds a blob by ID. Written by hand:
 * no library keeps a compact hash map of binary keys for JavaScript.
 */
const noRow = -1;

/** Decodes a hex ID into 32 bytes without allocating; compared and hashed as eight 32-bit words. */
const probe = Buffer.alloc(32);
const probeWords = new Uint32Array(probe.buffer, probe.byteOffset, 8);
/** Mixed into the hash so that crafted IDs in a hostile index cannot pile up in one bucket. */
const salt = (Math.random() * 2 ** 32) >>> 0;

/** The first table slot to try for an ID whose 32-bit words 0 and 5 are given. */
function bucket(word0: number, word5: number, mask: number): number {
  return (Math.imul(word0 ^ salt, 0x9e3779b1) ^ word5) & mask;
}

export class MasterIndex {
  private rows = 0;
  private keys = new Uint32Array(8 * 1024);
  private packOf = new Uint32Array(1024);
  private offsets = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private plainLengths = new Uint32Array(1024);
  private types = new Uint8Array(1024);
  /** The next row of the same pack, as the pack's (first) index listing orders them. */
  private nextInPack = new Int32Array(1024);
  private table = new Int32Array(2048).fill(noRow);
  private blobCount = 0;
  private readonly packIds: ID[] = [];
  private readonly packNumber = new Map<ID, number>();
  private readonly packFirst: number[] = [];
  private readonly packLast: number[] = [];
  /** Every pack any index names, with its blobs (as the first index naming it says). */
  readonly packs = new PackView(this);

  get(id: ID): BlobLocation | undefined {
    const row = this.find(id);
    return row === noRow ? undefined : this.locationAt(row);
  }

  has(id: ID): boolean {
    return this.find(id) !== noRow;
  }

  /**
   * A blob's row number (-1 if the index lacks it), for callers that keep many blobs: a number
   * instead of the ID's 64-character text and a location object. Rows stay valid until packs are
   * removed.
   */
  rowOf(id: ID): number {
    return this.find(id);
  }

  /** A row's pack, as a number: packs are numbered in the order the index first names them. */
  packNumberAt(row: number): number {
    return this.packOf[row]!;
  }

  /** A row's offset in its pack. */
  offsetAt(row: number): number {
    return this.offsets[row]!;
  }

  /** A row's blob type. */
  typeAt(row: number): BlobType {
    return this.types[row] === 1 ? 'tree' : 'data';
  }

  get size(): number {
    return this.blobCount;
  }

  addPack(pack: ID, blobs: readonly PackedBlob[]): void {
    // All or nothing: a listing with a malformed blob ID adds none of the pack.
    for (const b of blobs) this.slot(b.id);
    let n = this.packNumber.get(pack);
    const known = n !== undefined;
    if (n === undefined) {
      n = this.packIds.length;
      this.packIds.push(pack);
      this.packNumber.set(pack, n);
      this.packFirst.push(noRow);
      this.packLast.push(noRow);
    }
    for (const b of blobs) {
      const slot = this.slot(b.id);
      // A pack listed again (by a second index) adds only blobs not known from elsewhere.
      if (known && this.table[slot] !== noRow) continue;
      const row = this.addRow(n, b);
      if (!known) {
        if (this.packLast[n] === noRow) this.packFirst[n] = row;
        else this.nextInPack[this.packLast[n]!] = row;
        this.packLast[n] = row;
      }
      // The first pack seen holding a blob is the one used.
      if (this.table[slot] === noRow) {
        this.table[slot] = row;
        this.blobCount++;
        if (this.blobCount * 2 > this.table.length) this.rehash();
      }
    }
  }

  /** Forget packs (prune removed them); a blob also in a surviving pack is found there again. */
  removePacks(packs: ReadonlySet<ID>): void {
    const keep = this.packIds.filter((p) => !packs.has(p)).map((p) => [p, this.packBlobs(p)!] as const);
    this.rows = 0;
    this.blobCount = 0;
    this.table.fill(noRow);
    this.packIds.length = 0;
    this.packNumber.clear();
    this.packFirst.length = 0;
    this.packLast.length = 0;
    for (const [p, blobs] of keep) this.addPack(p, blobs);
  }

  *entries(): IterableIterator<[ID, BlobLocation]> {
    for (let i = 0; i < this.table.length; i++) {
      const row = this.table[i]!;
      if (row !== noRow) yield [this.idAt(row), this.locationAt(row)];
    }
  }

  /** @internal The blobs of one pack, for the pack view. */
  packBlobs(pack: ID): PackedBlob[] | undefined {
    const n = this.packNumber.get(pack);
    if (n === undefined) return undefined;
    const out: PackedBlob[] = [];
    for (let row = this.packFirst[n]!; row !== noRow; row = this.nextInPack[row]!) {
      const b: PackedBlob = { type: this.typeAt(row), id: this.idAt(row), offset: this.offsets[row]!, length: this.lengths[row]! };
      if (this.plainLengths[row]) b.uncompressedLength = this.plainLengths[row];
      out.push(b);
    }
    return out;
  }

  /** @internal */
  hasPack(pack: ID): boolean {
    return this.packNumber.has(pack);
  }

  /** @internal */
  packList(): readonly ID[] {
    return this.packIds;
  }

  /** Where a row's blob is. */
  locationAt(row: number): BlobLocation {
    const loc: BlobLocation = { pack: this.packIds[this.packOf[row]!]!, type: this.typeAt(row), offset: this.offsets[row]!, length: this.lengths[row]! };
    if (this.plainLengths[row]) loc.uncompressedLength = this.plainLengths[row];
    return loc;
  }

  /** The ID of a row. */
  idAt(row: number): ID {
    return Buffer.from(this.keys.buffer, row * 32, 32).toString('hex');
  }

  /** A row for `b`, whose ID slot() has just left in probe. */
  private addRow(pack: number, b: PackedBlob): number {
    if (this.rows === this.packOf.length) this.grow();
    const row = this.rows++;
    this.keys.set(probeWords, row * 8);
    this.packOf[row] = pack;
    this.offsets[row] = b.offset;
    this.lengths[row] = b.length;
    this.plainLengths[row] = b.uncompressedLength ?? 0;
    this.types[row] = b.type === 'tree' ? 1 : 0;
    this.nextInPack[row] = noRow;
    return row;
  }

  private grow(): void {
    const cap = this.packOf.length * 2;
    this.keys = grown(this.keys, cap * 8);
    this.packOf = grown(this.packOf, cap);
    this.offsets = grown(this.offsets, cap);
    this.lengths = grown(this.lengths, cap);
    this.plainLengths = grown(this.plainLengths, cap);
    this.types = grown(this.types, cap);
    this.nextInPack = grown(this.nextInPack, cap);
  }

  /** Row of a blob, or noRow. */
  private find(id: ID): number {
    if (id.length !== 64 || probe.write(id, 'hex') !== 32) return noRow;
    return this.table[this.probeSlot()]!;
  }

  /** The table slot of a blob: where it is, or the empty one where it would go. Leaves its ID in probe. */
  private slot(id: ID): number {
    if (probe.write(id, 'hex') !== 32) throw new CorruptError(`index names a blob with a malformed ID ${JSON.stringify(id.slice(0, 80))}`);
    return this.probeSlot();
  }

  private probeSlot(): number {
    const w = probeWords;
    const mask = this.table.length - 1;
    let i = bucket(w[0]!, w[5]!, mask);
    for (;;) {
      const row = this.table[i]!;
      if (row === noRow) return i;
      const k = row * 8;
      const keys = this.keys;
      if (keys[k] === w[0] && keys[k + 1] === w[1] && keys[k + 2] === w[2] && keys[k + 3] === w[3] &&
          keys[k + 4] === w[4] && keys[k + 5] === w[5] && keys[k + 6] === w[6] && keys[k + 7] === w[7]) return i;
      i = (i + 1) & mask;
    }
  }

  private rehash(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2).fill(noRow);
    const mask = this.table.length - 1;
    for (const row of old) {
      if (row === noRow) continue;
      const k = row * 8;
      let i = bucket(this.keys[k]!, this.keys[k + 5]!, mask);
      while (this.table[i] !== noRow) i = (i + 1) & mask;
      this.table[i] = row;
    }
  }
}

/** The packs of an index as a read-only map of pack ID to its blobs; each lookup builds the list. */
export class PackView {
  constructor(private readonly index: MasterIndex) {}

  get size(): number {
    return this.index.packList().length;
  }

  has(pack: ID): boolean {
    return this.index.hasPack(pack);
  }

  get(pack: ID): PackedBlob[] | undefined {
    return this.index.packBlobs(pack);
  }

  *keys(): IterableIterator<ID> {
    yield* this.index.packList();
  }

  *[Symbol.iterator](): IterableIterator<[ID, PackedBlob[]]> {
    for (const p of this.index.packList()) yield [p, this.index.packBlobs(p)!];
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
