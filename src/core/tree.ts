/**
 * Trees: a directory's listing as restic stores it, `{"nodes":[…]}` + newline, nodes sorted by name
 * (byte order), fields in restic's order so identical folders give identical tree blobs in both tools.
 */
import { z } from 'zod';
import { CorruptError } from './errors.js';
import { goJson, parseJson, type GoValue } from './gojson.js';
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

const nonzero = (x: bigint | undefined) => (x === undefined || x === 0n ? undefined : x);

export function encodeNode(n: TreeNode): GoValue {
  return {
    name: n.name,
    type: n.type,
    mode: n.mode === 0 ? undefined : n.mode,
    mtime: n.mtime,
    atime: n.atime,
    ctime: n.ctime,
    uid: n.uid,
    gid: n.gid,
    user: n.user || undefined,
    group: n.group || undefined,
    inode: nonzero(n.inode),
    device_id: nonzero(n.deviceId),
    size: n.size ? n.size : undefined,
    links: nonzero(n.links),
    linktarget: n.linktarget || undefined,
    extended_attributes: n.extendedAttributes?.length ? n.extendedAttributes : undefined,
    device: nonzero(n.device),
    content: n.content,
    subtree: n.subtree,
    error: n.error || undefined,
  };
}

function byteOrder(a: TreeNode, b: TreeNode): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

export function encodeTree(nodes: TreeNode[]): Buffer {
  const sorted = [...nodes].sort(byteOrder);
  return Buffer.from(`${goJson({ nodes: sorted.map(encodeNode) })}\n`);
}

const u64 = z.union([z.number().int().nonnegative(), z.bigint().nonnegative()]).transform((x) => BigInt(x));
const idSchema = z.string().refine(isID, 'not a blob ID');

const nodeSchema = z.object({
  name: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'dev', 'chardev', 'fifo', 'socket', 'irregular']),
  mode: z.number().int().nonnegative().optional(),
  mtime: z.string().optional(),
  atime: z.string().optional(),
  ctime: z.string().optional(),
  uid: z.number().int().nonnegative().optional(),
  gid: z.number().int().nonnegative().optional(),
  user: z.string().optional(),
  group: z.string().optional(),
  inode: u64.optional(),
  device_id: u64.optional(),
  size: u64.optional(),
  links: u64.optional(),
  linktarget: z.string().optional(),
  extended_attributes: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  device: u64.optional(),
  content: z.array(idSchema).nullable().optional(),
  subtree: idSchema.nullish(),
  error: z.string().optional(),
});

const treeSchema = z.object({ nodes: z.array(nodeSchema).nullable() });

const zeroTime = '0001-01-01T00:00:00Z';

export function decodeTree(bytes: Uint8Array): TreeNode[] {
  let raw: unknown;
  try {
    raw = parseJson(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new CorruptError('tree is not valid JSON');
  }
  const r = treeSchema.safeParse(raw);
  if (!r.success) throw new CorruptError(`tree is malformed: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
  return (r.data.nodes ?? []).map((n) => ({
    name: n.name,
    type: n.type,
    mode: n.mode ?? 0,
    mtime: n.mtime ?? zeroTime,
    atime: n.atime ?? zeroTime,
    ctime: n.ctime ?? zeroTime,
    uid: n.uid ?? 0,
    gid: n.gid ?? 0,
    user: n.user,
    group: n.group,
    inode: n.inode,
    deviceId: n.device_id,
    size: n.size === undefined ? undefined : Number(n.size),
    links: n.links,
    linktarget: n.linktarget,
    extendedAttributes: n.extended_attributes ?? undefined,
    device: n.device,
    content: n.content ?? null,
    subtree: n.subtree ?? undefined,
    error: n.error,
  }));
}

/**
 * A name that is safe to create inside a folder: not empty, not `.` or `..`, no `/` and no NUL.
 * A tree that breaks this is malicious or corrupt; restoring it could write outside the target.
 */
export function isSafeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
