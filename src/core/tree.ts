/**
 * Trees: a directory's listing as restic stores it, `{"nodes":[…]}` + newline, nodes sorted by name
 * (byte order), fields in restic's order so identical folders give identical tree blobs in both tools.
 */
import { CorruptError } from './errors.js';
import { goJson, goString, parseJson } from './gojson.js';
import { goQuoteInner, goUnquoteInner } from './goquote.js';
import { isID, type ID } from './hash.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'dev' | 'chardev' | 'fifo' | 'socket' | 'irregular';

export interface TreeNode {
  name: string;
  type: NodeType;
  /** Go os.FileMode: permission bits plus type bits (ModeDir = 1<<31, …). */
  mode: number;
  mtime: string;
  atime: string;
  ctime: string;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  inode?: bigint;
  deviceId?: bigint;
  size?: number;
  links?: bigint;
  linktarget?: string;
  extendedAttributes?: { name: string; value: string }[];
  device?: bigint;
  content: ID[] | null;
  subtree?: ID;
  error?: string;
}

// Go os.FileMode type bits.
export const ModeDir = 2 ** 31;
export const ModeSymlink = 2 ** 27;
export const ModeDevice = 2 ** 26;
export const ModeNamedPipe = 2 ** 25;
export const ModeSocket = 2 ** 24;
export const ModeSetuid = 2 ** 23;
export const ModeSetgid = 2 ** 22;
export const ModeCharDevice = 2 ** 21;
export const ModeSticky = 2 ** 20;

/** A generous estimate of one node's encoded size (a photo's is ~350 bytes). */
const nodeEstimate = 512;

const plainJson = /^[\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\x5b\x5d-\x7e]*$/; // printable ASCII that Go's JSON writes as is

/**
 * A tree written node by node, in name order, field by field into one buffer: this runs for every
 * file of every backup, and building each node as a string (then joining, then converting) made a
 * backup of 58,000 files allocate ~200 MB of short-lived strings on the main thread. A backup adds a
 * folder's entries as they are stored (see Archiver), so a folder of 14,000 photos is held as ~5 MB
 * of JSON, not as 14,000 node objects until its last photo is read.
 *
 * The buffer is sized up front from the expected node count: for a large folder it is one mapping
 * whose pages cost memory only once written, and the tree is returned without a copy.
 */
export class TreeEncoder {
  private out: Buffer;
  private end = 0;
  private count = 0;
  private last: string | undefined;

  constructor(expectedNodes: number) {
    this.out = Buffer.allocUnsafe(expectedNodes * nodeEstimate + 64);
    this.ascii('{"nodes":[');
  }

  /** Append a node; nodes must come in name order (utf8Compare). */
  add(n: TreeNode): void {
    if (this.last !== undefined && utf8Compare(this.last, n.name) >= 0) {
      throw new Error(`tree nodes out of order: ${JSON.stringify(n.name)} after ${JSON.stringify(this.last)}`);
    }
    this.last = n.name;
    if (this.count++ > 0) this.ascii(',');
    this.writeNode(n);
  }

  /** An encoder that goes on from the same nodes (see Archiver: destinations whose trees part). */
  clone(): TreeEncoder {
    const c = new TreeEncoder(0);
    c.out = Buffer.allocUnsafe(this.out.length);
    this.out.copy(c.out, 0, 0, this.end);
    c.end = this.end;
    c.count = this.count;
    c.last = this.last;
    return c;
  }

  /** The encoded tree; the encoder is spent. */
  finish(): Buffer {
    this.ascii(']}\n');
    const tree = this.out.subarray(0, this.end);
    this.out = Buffer.alloc(0);
    // Small trees are copied out: a view would keep most of an estimate-sized buffer alive.
    return tree.length * 2 < tree.buffer.byteLength ? Buffer.from(tree) : tree;
  }

  private room(n: number): void {
    if (this.end + n <= this.out.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.end + n, this.out.length * 2));
    this.out.copy(next, 0, 0, this.end);
    this.out = next;
  }

  /** Text known to be ASCII (field names, numbers, hex IDs, times). */
  private ascii(s: string): void {
    this.room(s.length);
    this.end += this.out.write(s, this.end, 'latin1');
  }

  /** Any text, as UTF-8. */
  private utf8(s: string): void {
    this.room(s.length * 3);
    this.end += this.out.write(s, this.end, 'utf8');
  }

  /** A JSON string as Go writes it. */
  private jsonString(s: string): void {
    if (plainJson.test(s)) {
      this.room(s.length + 2);
      this.out[this.end++] = 0x22;
      this.end += this.out.write(s, this.end, 'latin1');
      this.out[this.end++] = 0x22;
    } else {
      this.utf8(goString(s));
    }
  }

  /**
   * One node as restic's Go struct marshals it: fields in declaration order, `omitempty` ones left
   * out when zero.
   */
  private writeNode(n: TreeNode): void {
    this.ascii('{"name":');
    this.jsonString(goQuoteInner(n.name));
    this.ascii(`,"type":"${n.type}"`);
    if (n.mode !== 0) this.ascii(`,"mode":${n.mode}`);
    this.ascii(',"mtime":');
    this.jsonString(n.mtime);
    this.ascii(',"atime":');
    this.jsonString(n.atime);
    this.ascii(',"ctime":');
    this.jsonString(n.ctime);
    this.ascii(`,"uid":${n.uid},"gid":${n.gid}`);
    if (n.user) {
      this.ascii(',"user":');
      this.jsonString(n.user);
    }
    if (n.group) {
      this.ascii(',"group":');
      this.jsonString(n.group);
    }
    if (n.inode) this.ascii(`,"inode":${n.inode}`);
    if (n.deviceId) this.ascii(`,"device_id":${n.deviceId}`);
    if (n.size) this.ascii(`,"size":${n.size}`);
    if (n.links) this.ascii(`,"links":${n.links}`);
    if (n.linktarget) {
      this.ascii(',"linktarget":');
      this.jsonString(n.linktarget);
    }
    if (n.extendedAttributes?.length) {
      this.ascii(',"extended_attributes":');
      this.utf8(goJson(n.extendedAttributes));
    }
    if (n.device) this.ascii(`,"device":${n.device}`);
    if (n.content === null) {
      this.ascii(',"content":null');
    } else {
      this.ascii(',"content":[');
      n.content.forEach((id, i) => this.ascii(i === 0 ? `"${id}"` : `,"${id}"`));
      this.ascii(']');
    }
    if (n.subtree) this.ascii(`,"subtree":"${n.subtree}"`);
    if (n.error) {
      this.ascii(',"error":');
      this.jsonString(n.error);
    }
    this.ascii('}');
  }
}

/**
 * Compare names by their UTF-8 bytes, as Go compares strings, without encoding them: UTF-16 code
 * units order the same way except that surrogates (characters above U+FFFF, 4 UTF-8 bytes) must
 * come after U+E000..U+FFFF (3 bytes).
 */
export function utf8Compare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** `{"nodes":[…]}` + newline, nodes sorted by name. */
export function encodeTree(nodes: TreeNode[]): Buffer {
  const e = new TreeEncoder(nodes.length);
  for (const n of [...nodes].sort((a, b) => utf8Compare(a.name, b.name))) e.add(n);
  return e.finish();
}

const nodeTypes: ReadonlySet<string> = new Set<NodeType>(['file', 'dir', 'symlink', 'dev', 'chardev', 'fifo', 'socket', 'irregular']);

const zeroTime = '0001-01-01T00:00:00Z';

/*
 * The checks a schema library would make, written out: trees are decoded by the tens of thousands
 * (one per folder of every snapshot read), and zod built a copy of every node on the way, which made
 * decoding 30k trees take ~460 ms and most of a no-change backup's garbage when the folder cache is
 * gone. Absent fields are allowed; a field that is there must have its type (null only where restic
 * writes null).
 */
type Raw = Record<string, unknown>;

function malformed(at: string, message: string): never {
  throw new CorruptError(`tree is malformed: ${at}: ${message}`);
}

function optString(n: Raw, key: string, at: string): string | undefined {
  const v = n[key];
  if (v === undefined || typeof v === 'string') return v;
  return malformed(`${at}.${key}`, 'expected a string');
}

function optUint(n: Raw, key: string, at: string): number | undefined {
  const v = n[key];
  if (v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0)) return v;
  return malformed(`${at}.${key}`, 'expected a non-negative integer');
}

/** uint64 fields (inode, size, ...): parseJson gives a bigint where a number would lose digits. */
function optU64(n: Raw, key: string, at: string): bigint | undefined {
  const v = n[key];
  if (v === undefined) return undefined;
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  return malformed(`${at}.${key}`, 'expected a non-negative integer');
}

function id(v: unknown, at: string): ID {
  return isID(v) ? v : malformed(at, 'not a blob ID');
}

function decodeNode(v: unknown, at: string): TreeNode {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return malformed(at, 'expected an object');
  const n = v as Raw;
  const name = optString(n, 'name', at) ?? malformed(`${at}.name`, 'expected a string');
  const type = n.type;
  if (typeof type !== 'string' || !nodeTypes.has(type)) return malformed(`${at}.type`, `unknown node type ${JSON.stringify(type)}`);
  const xattrs = n.extended_attributes;
  if (xattrs !== undefined && xattrs !== null && !(Array.isArray(xattrs) && xattrs.every((x) => typeof x?.name === 'string' && typeof x?.value === 'string'))) {
    malformed(`${at}.extended_attributes`, 'expected a list of name/value pairs');
  }
  const content = n.content;
  if (content !== undefined && content !== null && !Array.isArray(content)) malformed(`${at}.content`, 'expected a list of blob IDs');
  const size = optU64(n, 'size', at);
  return {
    // restic Go-quotes names inside the JSON string; accept unquoted ones written before we did too.
    name: goUnquoteInner(name) ?? name,
    type: type as NodeType,
    mode: optUint(n, 'mode', at) ?? 0,
    mtime: optString(n, 'mtime', at) ?? zeroTime,
    atime: optString(n, 'atime', at) ?? zeroTime,
    ctime: optString(n, 'ctime', at) ?? zeroTime,
    uid: optUint(n, 'uid', at) ?? 0,
    gid: optUint(n, 'gid', at) ?? 0,
    user: optString(n, 'user', at),
    group: optString(n, 'group', at),
    inode: optU64(n, 'inode', at),
    deviceId: optU64(n, 'device_id', at),
    size: size === undefined ? undefined : Number(size),
    links: optU64(n, 'links', at),
    linktarget: optString(n, 'linktarget', at),
    extendedAttributes: (xattrs as { name: string; value: string }[] | null | undefined) ?? undefined,
    device: optU64(n, 'device', at),
    content: Array.isArray(content) ? content.map((c, i) => id(c, `${at}.content.${i}`)) : null,
    subtree: n.subtree === undefined || n.subtree === null ? undefined : id(n.subtree, `${at}.subtree`),
    error: optString(n, 'error', at),
  };
}

export function decodeTree(bytes: Uint8Array): TreeNode[] {
  let raw: unknown;
  try {
    // A view, not a copy: a restore or check decodes every tree of the snapshot.
    raw = parseJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw new CorruptError('tree is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return malformed('tree', 'expected an object');
  const nodes = (raw as Raw).nodes;
  if (nodes === null) return [];
  if (!Array.isArray(nodes)) return malformed('nodes', 'expected a list');
  return nodes.map((n, i) => decodeNode(n, `nodes.${i}`));
}

/**
 * A name that is safe to create inside a folder: not empty, not `.` or `..`, no `/` and no NUL.
 * A tree that breaks this is malicious or corrupt; restoring it could write outside the target.
 */
export function isSafeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
