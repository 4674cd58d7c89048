/**
 * A repository opened with a password: the backend, the master key, the config and the index.
 * Reading and writing of unpacked files (config, snapshots, indexes, locks) and of single blobs
 * lives here; bulk writing of packs is in repo-writer.ts.
 */
import { BackendError, hasConfig, isNotFound, type Backend, type FileType } from '../backend/backend.js';
import { compressMin, compressWith, decompress, loadZstd, type Compressor } from './compress.js';
import { open, randomKey, seal, type MasterKey } from './crypto.js';
import { CorruptError, KeepsakeError } from './errors.js';
import { goJson } from './gojson.js';
import { hashID, type ID } from './hash.js';
import { calibrateKdf, createKeyFile, openKeyFile, parseKeyFile, type KdfParams, type KeyDerivation } from './keys.js';
import { decodeIndex, MasterIndex } from './master-index.js';
import { randomPolynomial } from './polynomial.js';
import { type BlobType } from './pack.js';
import { decodeSnapshot, newestFirst, type StoredSnapshot } from './snapshot.js';
import { decodeTree, type TreeNode } from './tree.js';
import { mapLimit } from './concurrency.js';
import { decodeBlob } from './blob.js';
import { type FileCache } from './file-cache.js';
import { firstProblem, matching, oneOf, type Fields } from './shape.js';

export interface RepoConfig {
  version: 1 | 2;
  id: string;
  chunkerPolynomial: bigint;
}

const configShape: Fields = {
  version: oneOf(1, 2),
  id: matching(/^[0-9a-f]{64}$/),
  chunker_polynomial: matching(/^[0-9a-f]{1,16}$/),
};

const treePackCacheBytes = 128 * 1024 * 1024;

/** Tried in this order; restic also stops after a bounded number of key files. */
const maxKeysTried = 20;

export type UnpackedType = Exclude<FileType, 'pack' | 'key' | 'config'>;

export class Repository {
  readonly index = new MasterIndex();
  private indexState: Promise<void> | undefined;
  private indexDone = false;
  private readonly treePackCache = new Map<ID, { data: Promise<Uint8Array>; size: number }>();
  private treePackCacheUsed = 0;
  private cache: FileCache | undefined;

  private constructor(
    readonly backend: Backend,
    readonly key: MasterKey,
    readonly config: RepoConfig,
    /** The ID of the key file the password opened. */
    readonly keyId: ID,
    /** The scrypt parameters of that key file. */
    readonly keyKdf: KdfParams,
  ) {}

  get compressed(): boolean {
    return this.config.version === 2;
  }

  static async init(
    backend: Backend,
    password: string,
    opts: { kdf?: KdfParams; chunkerPolynomial?: bigint; version?: 1 | 2 } = {},
  ): Promise<Repository> {
    if (await hasConfig(backend)) throw new KeepsakeError('repository-exists', `a repository already exists at ${backend.location}`);
    await backend.create();
    const key = randomKey();
    const config: RepoConfig = {
      version: opts.version ?? 2,
      id: hashID(randomKey().encrypt),
      chunkerPolynomial: opts.chunkerPolynomial ?? randomPolynomial(),
    };
    const kdf = opts.kdf ?? (await calibrateKdf());
    const keyFile = await createKeyFile(key, password, kdf);
    const keyId = hashID(keyFile);
    await backend.save({ type: 'key', name: keyId }, keyFile);
    const configJson = goJson({
      version: config.version,
      id: config.id,
      chunker_polynomial: config.chunkerPolynomial.toString(16),
    });
    // The config is encrypted but never compressed, in both format versions.
    await backend.save({ type: 'config', name: '' }, seal(key, Buffer.from(configJson)));
    return new Repository(backend, key, config, keyId, kdf);
  }

  /**
   * `how`: see KeyDerivation ('fast' spends more memory on opening the key, for less time).
   * `onDerive`: see openKeyFile; it is given the backend, which can be read meanwhile.
   */
  static async open(backend: Backend, password: string, how: KeyDerivation = 'lean', onDerive?: (backend: Backend) => void): Promise<Repository> {
    let configRaw: Uint8Array;
    try {
      configRaw = await backend.load({ type: 'config', name: '' }, 0, 0);
    } catch (err) {
      if (isNotFound(err)) {
        throw new KeepsakeError('no-repository', `there is no repository at ${backend.location}`, {
          hint: 'create one with `keepsake init`, or check the --repo path',
        });
      }
      throw err;
    }
    const { key, keyId, kdf } = await findKey(backend, password, how, onDerive);
    const config = parseConfig(open(key, configRaw));
    return new Repository(backend, key, config, keyId, kdf);
  }

  /** Decrypt (and decompress) a stored unpacked file; checks that its name is its hash. */
  async loadUnpacked(type: UnpackedType, id: ID): Promise<Buffer> {
    const cacheable = this.cache && (type === 'index' || type === 'snapshot') ? type : undefined;
    const cached = cacheable && (await this.cache!.get(cacheable, id));
    // A damaged cached copy is simply fetched again.
    if (cached && hashID(cached) === id) return this.decodeUnpacked(open(this.key, cached));
    const raw = await this.backend.load({ type, name: id }, 0, 0);
    if (hashID(raw) !== id) throw new CorruptError(`${type} ${id.slice(0, 8)}: content does not match its name`);
    const plain = this.decodeUnpacked(open(this.key, raw));
    if (cacheable) await this.cache!.put(cacheable, id, raw);
    return plain;
  }

  /** Keep a local copy of indexes, snapshots and tree packs (for remote destinations). */
  useCache(cache: FileCache): void {
    this.cache = cache;
  }

  private decodeUnpacked(plain: Buffer): Buffer {
    if (plain.length === 0) return plain;
    const first = plain[0]!;
    if (first === 0x7b || first === 0x5b) return plain; // `{` or `[`: uncompressed JSON (format v1 style)
    if (first === 2) return Buffer.from(decompress(plain.subarray(1)));
    throw new CorruptError(`unknown encoding byte ${first} in repository file`);
  }

  /** Compress (v2), encrypt and store; returns the file's ID. */
  async saveUnpacked(type: UnpackedType, json: Uint8Array): Promise<ID> {
    const data = await this.sealUnpacked(json);
    const id = hashID(data);
    await this.backend.save({ type, name: id }, data);
    return id;
  }

  async sealUnpacked(json: Uint8Array, compressor?: Compressor): Promise<Buffer> {
    let plain: Uint8Array = json;
    if (this.compressed && json.length >= compressMin) {
      const z = await compressWith(compressor, json);
      plain = Buffer.concat([Buffer.of(2), z]);
    }
    const sealed = seal(this.key, plain);
    // Read it back before it leaves: a fault in memory or in an encoder must not reach the
    // repository as an index or snapshot nobody can read (these files are small; this is cheap).
    // The compression was read back where it was done (compressWith).
    if (!open(this.key, sealed).equals(plain)) {
      throw new CorruptError('a repository file did not read back as written; nothing was stored');
    }
    return sealed;
  }

  async list(type: Exclude<FileType, 'config'>): Promise<string[]> {
    const out: string[] = [];
    for await (const f of this.backend.list(type)) out.push(f.name);
    return out;
  }

  /** True once every index file is in memory. */
  get indexLoaded(): boolean {
    return this.indexDone;
  }

  /**
   * Load every index file into memory. Safe to call more than once, also concurrently (the first
   * call's options apply). With `onDamaged`, an index file that cannot be read is reported and
   * skipped (check does this, to report every problem); otherwise it fails the load.
   */
  loadIndex(opts: { onDamaged?: (id: ID, err: Error) => void } = {}): Promise<void> {
    this.indexState ??= this.readIndexes(opts.onDamaged).then(() => {
      this.indexDone = true;
    });
    return this.indexState;
  }

  private async readIndexes(onDamaged?: (id: ID, err: Error) => void): Promise<void> {
    const ids = await this.list('index');
    // Index files are the largest JSON a repository holds: decompressed by the WebAssembly decoder
    // (loaded only if there are any: a first backup's thread then never holds its heap).
    if (this.compressed && ids.length > 0) await loadZstd();
    await this.cache?.retain('index', new Set(ids));
    await mapLimit(ids, this.backend.connections, async (id) => {
      let idx;
      try {
        idx = decodeIndex((await this.loadUnpacked('index', id)).toString('utf8'));
      } catch (err) {
        if (!onDamaged) throw err;
        onDamaged(id, err as Error);
        return;
      }
      for (const p of idx.packs) this.index.addPack(p.id, p.blobs);
    });
    await this.cache?.retain('tree-pack', new Set(this.index.packs.keys()));
  }

  /** Load, verify and decode one blob. */
  async loadBlob(type: BlobType, id: ID): Promise<Buffer> {
    if (!this.indexDone) await this.loadIndex();
    const loc = this.index.get(id);
    if (!loc || loc.type !== type) throw new KeepsakeError('not-found', `${type} blob ${id.slice(0, 8)} is not in the index`);
    const pack = type === 'tree' ? await this.treePack(loc.pack) : undefined;
    const raw = pack
      ? pack.subarray(loc.offset, loc.offset + loc.length)
      : await this.backend.load({ type: 'pack', name: loc.pack }, loc.length, loc.offset);
    return this.decodeBlob(id, raw, loc.uncompressedLength);
  }

  /**
   * Forget the tree packs read so far, for a caller done reading trees: the budget is 128 MiB, and a
   * restore kept 14 MB of them (58,833 photos) through its whole writing phase.
   */
  releaseTreePacks(): void {
    this.treePackCache.clear();
    this.treePackCacheUsed = 0;
  }

  /**
   * Tree packs are read whole and kept (up to a memory budget): a walk over a snapshot touches
   * thousands of small tree blobs that live together in a few packs, and one read per pack beats one
   * per blob, most of all on remote destinations.
   */
  private treePack(pack: ID): Promise<Uint8Array> | undefined {
    const cached = this.treePackCache.get(pack);
    if (cached) {
      this.treePackCache.delete(pack);
      this.treePackCache.set(pack, cached);
      return cached.data;
    }
    const blobs = this.index.packs.get(pack);
    if (!blobs) return undefined;
    const extent = blobs.reduce((m, b) => Math.max(m, b.offset + b.length), 0);
    if (extent > treePackCacheBytes / 4) return undefined;
    const data = this.loadTreePack(pack, extent);
    data.catch(() => {
      if (this.treePackCache.delete(pack)) this.treePackCacheUsed -= extent;
    });
    this.treePackCache.set(pack, { data, size: extent });
    this.treePackCacheUsed += extent;
    for (const [id, entry] of this.treePackCache) {
      if (this.treePackCacheUsed <= treePackCacheBytes) break;
      this.treePackCache.delete(id);
      this.treePackCacheUsed -= entry.size;
    }
    return data;
  }

  /** The blob part of a tree pack, from the local cache if it has it (every blob is verified on use). */
  private async loadTreePack(pack: ID, extent: number): Promise<Uint8Array> {
    const cached = await this.cache?.get('tree-pack', pack);
    if (cached && cached.length === extent) return cached;
    const data = await this.backend.load({ type: 'pack', name: pack }, extent, 0);
    await this.cache?.put('tree-pack', pack, data);
    return data;
  }

  decodeBlob(id: ID, raw: Uint8Array, uncompressedLength: number | undefined): Buffer {
    return decodeBlob(this.key, id, raw, uncompressedLength);
  }

  async loadTree(id: ID): Promise<TreeNode[]> {
    return decodeTree(await this.loadBlob('tree', id));
  }

  async loadSnapshot(id: ID): Promise<StoredSnapshot> {
    return decodeSnapshot(id, await this.loadUnpacked('snapshot', id));
  }

  async snapshots(): Promise<StoredSnapshot[]> {
    const ids = await this.list('snapshot');
    await this.cache?.retain('snapshot', new Set(ids));
    return mapLimit(ids, this.backend.connections, (id) => this.loadSnapshot(id));
  }

  /** Resolve `latest`, a full ID, or a unique prefix of at least 4 hex characters. */
  async findSnapshot(ref: string, pick?: (s: StoredSnapshot) => boolean): Promise<StoredSnapshot> {
    if (ref === 'latest') {
      const all = (await this.snapshots()).filter((s) => !pick || pick(s));
      all.sort(newestFirst);
      if (!all[0]) throw new KeepsakeError('not-found', 'the repository has no snapshots yet');
      return all[0];
    }
    if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new KeepsakeError('invalid-argument', `not a snapshot ID: ${ref}`);
    const ids = (await this.list('snapshot')).filter((id) => id.startsWith(ref));
    if (ids.length === 0) throw new KeepsakeError('not-found', `no snapshot ${ref}`);
    if (ids.length > 1) throw new KeepsakeError('invalid-argument', `snapshot prefix ${ref} is ambiguous`);
    return this.loadSnapshot(ids[0]!);
  }

  async addKey(password: string, kdf?: KdfParams): Promise<ID> {
    const file = await createKeyFile(this.key, password, kdf ?? (await calibrateKdf()));
    const id = hashID(file);
    await this.backend.save({ type: 'key', name: id }, file);
    return id;
  }

  /**
   * Remove a key file other than the one this repository was opened with: that one is known to
   * work, so the repository always keeps a key. Two removals at once could still remove each
   * other's key; callers hold the exclusive lock.
   */
  async removeKey(id: ID): Promise<void> {
    if (id === this.keyId) {
      throw new KeepsakeError('invalid-argument', 'that is the key this password opened, and it cannot remove itself', {
        hint: 'open the repository with another password to remove it, or use `keepsake key passwd` to replace it',
      });
    }
    await this.backend.remove({ type: 'key', name: id });
  }
}

async function findKey(backend: Backend, password: string, how: KeyDerivation, onDerive?: (backend: Backend) => void): Promise<{ key: MasterKey; keyId: ID; kdf: KdfParams }> {
  const ids: string[] = [];
  for await (const f of backend.list('key')) ids.push(f.name);
  for (const id of ids.slice(0, maxKeysTried)) {
    let kf;
    try {
      const raw = await backend.load({ type: 'key', name: id }, 0, 0);
      kf = parseKeyFile(raw);
    } catch (err) {
      if (err instanceof BackendError) throw err;
      continue; // a damaged key file must not hide the good ones
    }
    const key = await openKeyFile(kf, password, how, onDerive && (() => onDerive(backend)));
    if (key) return { key, keyId: id, kdf: { N: kf.N, r: kf.r, p: kf.p } };
  }
  throw new KeepsakeError('wrong-password', `wrong password, or no key found in ${backend.location}`, {
    hint: 'check KEEPSAKE_PASSWORD or --password-file; the password cannot be recovered if it is lost',
  });
}

function parseConfig(plain: Buffer): RepoConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(plain.toString('utf8'));
  } catch {
    throw new CorruptError('config is not valid JSON');
  }
  const problem = firstProblem(raw, configShape);
  if (problem) throw new KeepsakeError('unsupported', `repository config is not understood: ${problem}`);
  const c = raw as { version: 1 | 2; id: string; chunker_polynomial: string };
  return { version: c.version, id: c.id, chunkerPolynomial: BigInt(`0x${c.chunker_polynomial}`) };
}
