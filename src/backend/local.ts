/**
 * A repository in a local folder (an internal disk, a mounted external drive or network share).
 *
 * Saves are atomic and durable: write to a temporary name in the same folder, fsync, rename, then
 * fsync the folder so the rename itself survives a power cut. Stored files are made read-only, as
 * restic does, to guard against accidental edits.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BackendError,
  dirOf,
  filePath,
  fileSystemError,
  isValidName,
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
} from './backend.js';

/**
 * File systems of disks attached to this machine (Linux `statfs` magic numbers): a file renamed into
 * place is in every listing at once. Network file systems (NFS, SMB, sshfs and other FUSE ones) are
 * not here: their clients cache listings. Neither are other systems' numbers, which differ.
 */
const localFileSystems = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x2fc12fc1, // zfs
  0xca451a4e, // bcachefs
  0xf2f52010, // f2fs
  0x01021994, // tmpfs
  0x794c7630, // overlayfs
  0x4d44, // vfat
  0x2011bab0, // exfat
  0x7366746e, // ntfs3
  0x5346544e, // ntfs
  0x482b, // hfsplus
  0x3153464a, // jfs
]);

export function isLocalFileSystem(platform: string, type: number): boolean {
  return platform === 'linux' && localFileSystems.has(type);
}

export class LocalBackend implements Backend {
  readonly location: string;
  readonly connections = 4;
  private listing?: Promise<boolean>;

  constructor(private readonly root: string) {
    this.location = `local:${root}`;
  }

  async create(): Promise<void> {
    try {
      await fs.access(path.join(this.root, 'config'));
      throw new BackendError('exists', `a repository already exists at ${this.root}`, {
        hint: 'choose an empty folder, or use the existing repository',
      });
    } catch (err) {
      if (err instanceof BackendError) throw err;
    }
    const dirs = ['keys', 'locks', 'snapshots', 'index', 'data'];
    for (let i = 0; i < 256; i++) dirs.push(`data/${i.toString(16).padStart(2, '0')}`);
    try {
      await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
      for (const d of dirs) await fs.mkdir(path.join(this.root, d), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw this.wrap(err, `create ${this.root}`, 'save');
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const final = path.join(this.root, filePath(h));
    const dir = path.dirname(final);
    const tmp = `${final}-tmp-${randomBytes(6).toString('hex')}`;
    try {
      // Pack subfolders may be missing in repositories created by other tools.
      if (h.type === 'pack') await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const f = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      try {
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await f.write(data, off, data.length - off);
          off += bytesWritten;
        }
        await f.sync();
        await f.chmod(0o400);
      } finally {
        await f.close();
      }
      await fs.rename(tmp, final);
      await syncDir(dir);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw this.wrap(err, `save ${filePath(h)}`, 'save');
    }
  }

  immediateListing(): Promise<boolean> {
    this.listing ??= fs.statfs(this.root).then((st) => isLocalFileSystem(process.platform, st.type), () => false);
    return this.listing;
  }

  localFile(h: Handle): string {
    return path.join(this.root, filePath(h));
  }

  /**
   * Packs are assembled in `data/00` (with names restic and keepsake skip when listing, like the
   * temporary files of save) and renamed into their folder: same file system, no copy.
   */
  async stagingDir(): Promise<string> {
    const dir = path.join(this.root, 'data', '00');
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw this.wrap(err, 'create data/00', 'save');
    }
    return dir;
  }

  async saveFile(h: Handle, file: string): Promise<void> {
    const final = path.join(this.root, filePath(h));
    const dir = path.dirname(final);
    try {
      const f = await fs.open(file, 'r');
      try {
        await f.sync();
        await f.chmod(0o400);
      } finally {
        await f.close();
      }
      if (h.type === 'pack') await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.rename(file, final);
      await syncDir(dir);
    } catch (err) {
      // A repeated call after the move succeeded (a lost reply in a retry): the file is in place.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === file) {
        if (await fs.stat(final).then(() => true, () => false)) return;
      }
      throw this.wrap(err, `save ${filePath(h)}`, 'save');
    }
  }

  async load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    const p = path.join(this.root, filePath(h));
    let f: fs.FileHandle | undefined;
    try {
      f = await fs.open(p, 'r');
      const size = length === 0 ? (await f.stat()).size - offset : length;
      if (size < 0) throw new BackendError('permanent', `${filePath(h)}: offset ${offset} is past the end of the file`);
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await f.read(buf, got, size - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got !== size) {
        throw new BackendError('permanent', `${filePath(h)}: wanted ${size} bytes at ${offset}, the file ends after ${got}`);
      }
      return buf;
    } catch (err) {
      throw this.wrap(err, `load ${filePath(h)}`, 'load');
    } finally {
      await f?.close();
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    try {
      const st = await fs.stat(path.join(this.root, filePath(h)));
      return { name: h.name, size: st.size };
    } catch (err) {
      throw this.wrap(err, `stat ${filePath(h)}`, 'load');
    }
  }

  async remove(h: Handle): Promise<void> {
    try {
      await fs.rm(path.join(this.root, filePath(h)), { force: true });
    } catch (err) {
      throw this.wrap(err, `remove ${filePath(h)}`, 'save');
    }
  }

  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    const base = path.join(this.root, dirOf(type));
    const dirs = type === 'pack' ? (await this.readdir(base)).filter((d) => /^[0-9a-f]{2}$/.test(d)) : [''];
    for (const sub of dirs) {
      const dir = path.join(base, sub);
      for (const name of await this.readdir(dir)) {
        if (!isValidName(name)) continue;
        try {
          const st = await fs.stat(path.join(dir, name));
          if (st.isFile()) yield { name, size: st.size };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.wrap(err, `list ${dir}`, 'load');
        }
      }
    }
  }

  async close(): Promise<void> {}

  private async readdir(dir: string): Promise<string[]> {
    try {
      return await fs.readdir(dir);
    } catch (err) {
      throw this.wrap(err, `list ${dir}`, 'save');
    }
  }

  private wrap(err: unknown, what: string, op: 'load' | 'save'): BackendError {
    return fileSystemError(err, this.location, this.root, what, op);
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, 'r');
  try {
    await d.sync();
  } catch (err) {
    // Some file systems (network shares, FUSE) refuse fsync on folders; the rename has happened.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' && (err as NodeJS.ErrnoException).code !== 'ENOTSUP') throw err;
  } finally {
    await d.close();
  }
}
