/**
 * Trees: a directory's listing as restic stores it, `{"nodes":[…]}` + newline, nodes sorted by name
 * (byte order), fields in restic's order so identical folders give identical tree blobs in both tools.
 */
import { z } from 'zod';
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

/**
 * One node as restic's Go struct marshals it: fields in declaration order, `omitempty` ones left out
 * when zero. Built as a string directly: this runs for every file of every backup.
 */
export function encodeNode(n: TreeNode): string {
  let s = `{"name":${goString(goQuoteInner(n.name))},"type":"${n.type}"`;
  if (n.mode !== 0) s += `,"mode":${n.mode}`;
  s += `,"mtime":${goString(n.mtime)},"atime":${goString(n.atime)},"ctime":${goString(n.ctime)},"uid":${n.uid},"gid":${n.gid}`;
  if (n.user) s += `,"user":${goString(n.user)}`;
  if (n.group) s += `,"group":${goString(n.group)}`;
  if (n.inode) s += `,"inode":${n.inode}`;
  if (n.deviceId) s += `,"device_id":${n.deviceId}`;
  if (n.size) s += `,"size":${n.size}`;
  if (n.links) s += `,"links":${n.links}`;
  if (n.linktarget) s += `,"linktarget":${goString(n.linktarget)}`;
  if (n.extendedAttributes?.length) s += `,"extended_attributes":${goJson(n.extendedAttributes)}`;
  if (n.device) s += `,"device":${n.device}`;
  s += `,"content":${n.content === null ? 'null' : `[${n.content.map((id) => `"${id}"`).join(',')}]`}`;
  if (n.subtree) s += `,"subtree":"${n.subtree}"`;
  if (n.error) s += `,"error":${goString(n.error)}`;
  return `${s}}`;
}

function byteOrder(a: TreeNode, b: TreeNode): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

export function encodeTree(nodes: TreeNode[]): Buffer {
  const sorted = [...nodes].sort(byteOrder);
  return Buffer.from(`{"nodes":[${sorted.map(encodeNode).join(',')}]}\n`);
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
    // restic Go-quotes names inside the JSON string; accept unquoted ones written before we did too.
    name: goUnquoteInner(n.name) ?? n.name,
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
