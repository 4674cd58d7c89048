/** Tree nodes from the file system, with restic's exact metadata, and the "unchanged" test. */
import { readlinkSync, type BigIntStats } from 'node:fs';
import { formatTime, parseTime } from './gojson.js';
import { groupName, userName } from './ownership.js';
import {
  ModeCharDevice, ModeDevice, ModeDir, ModeNamedPipe, ModeSetgid, ModeSetuid, ModeSocket, ModeSticky, ModeSymlink,
  type NodeType, type TreeNode,
} from './tree.js';

const S_IFMT = 0o170000;

export function nodeType(st: BigIntStats): NodeType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isBlockDevice()) return 'dev';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'irregular';
}

/** POSIX st_mode to Go's os.FileMode (type bits at the top, not in S_IFMT). */
export function goMode(stMode: number): number {
  let m = stMode & 0o777;
  if (stMode & 0o4000) m += ModeSetuid;
  if (stMode & 0o2000) m += ModeSetgid;
  if (stMode & 0o1000) m += ModeSticky;
  switch (stMode & S_IFMT) {
    case 0o040000: return m + ModeDir;
    case 0o120000: return m + ModeSymlink;
    case 0o060000: return m + ModeDevice;
    case 0o020000: return m + ModeDevice + ModeCharDevice;
    case 0o010000: return m + ModeNamedPipe;
    case 0o140000: return m + ModeSocket;
    default: return m;
  }
}

/** Go os.FileMode back to POSIX permission bits (for chmod on restore). */
export function posixPerm(goMode: number): number {
  let m = goMode % 0o1000;
  const hi = Math.floor(goMode / 2 ** 20);
  if (hi & 8) m |= 0o4000; // ModeSetuid = 1<<23
  if (hi & 4) m |= 0o2000; // ModeSetgid = 1<<22
  if (hi & 1) m |= 0o1000; // ModeSticky = 1<<20
  return m;
}

export function nodeFromStat(name: string, path: string, st: BigIntStats): TreeNode {
  const type = nodeType(st);
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const node: TreeNode = {
    name,
    type,
    mode: goMode(Number(st.mode)),
    mtime: formatTime(st.mtimeNs),
    atime: formatTime(st.atimeNs),
    ctime: formatTime(st.ctimeNs),
    uid,
    gid,
    user: userName(uid),
    group: groupName(gid),
    inode: st.ino,
    deviceId: st.dev,
    content: null,
  };
  // restic records the link count for everything but folders, and the size for files only.
  if (type !== 'dir') node.links = st.nlink;
  if (type === 'file') {
    node.size = Number(st.size);
    node.content = [];
  } else if (type === 'symlink') {
    node.linktarget = readlinkSync(path);
  } else if (type === 'dev' || type === 'chardev') {
    node.device = st.rdev;
  }
  return node;
}

/** restic's test: same type, mtime, ctime, size and inode means the content is unchanged. */
export function unchanged(prev: TreeNode | undefined, st: BigIntStats): prev is TreeNode & { content: string[] } {
  if (!prev || prev.type !== 'file' || !st.isFile() || prev.content === null) return false;
  try {
    return (
      parseTime(prev.mtime) === st.mtimeNs &&
      parseTime(prev.ctime) === st.ctimeNs &&
      BigInt(prev.size ?? 0) === st.size &&
      (prev.inode ?? 0n) === st.ino
    );
  } catch {
    return false;
  }
}
