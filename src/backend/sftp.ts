/**
 * A repository on an SSH server, over SFTP (a NAS, a friend's computer, a rented server), with
 * restic's folder layout.
 *
 * One SSH connection carries several SFTP channels, and each transfer keeps many read or write
 * requests in flight: SFTP answers every 32–256 KiB request separately, so sending them one at a
 * time would make throughput a function of the round-trip time. Saves write a temp file created
 * 0600 (ssh2 would create it 0666), fsync it, make it read-only, then rename it into place with the
 * `posix-rename@openssh.com` extension (plain SFTP rename refuses to replace an existing file).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { BackendError, dirOf, filePath, isValidName, type Backend, type FileInfo, type FileType, type Handle, hasConfig } from './backend.js';
import { Semaphore } from './limiter.js';
import { redactLocation } from './redact.js';
import { connectSsh, parseSftpLocation, resolveTarget, type SftpConnectOptions, type SftpLocation } from './sftp-connect.js';
import { readAll, sftpCall, writeAll } from './sftp-io.js';
import type { SshHost } from './ssh-config.js';

export interface SftpOptions extends SftpConnectOptions {
  /** SFTP channels opened on the connection (default 4; OpenSSH allows 10 sessions by default). */
  channels?: number;
}

const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
const FAILURE = 4;
const repoDirs = ['keys', 'locks', 'snapshots', 'index', 'data', ...Array.from({ length: 256 }, (_, i) => `data/${i.toString(16).padStart(2, '0')}`)];

export class SftpBackend implements Backend {
  readonly location: string;
  readonly connections: number;
  private readonly where: SftpLocation;
  private readonly target: SshHost;
  private conn: Promise<{ client: Client; channels: SFTPWrapper[] }> | undefined;
  private turn = 0;

  constructor(location: string, private readonly opts: SftpOptions) {
    this.location = redactLocation(location);
    this.where = parseSftpLocation(location);
    this.target = resolveTarget(this.where, opts);
    this.connections = opts.channels ?? 4;
  }

  async create(): Promise<void> {
    if (await hasConfig(this)) {
      throw new BackendError('exists', `${this.location}: a repository already exists here`, { hint: 'choose an empty folder, or use the existing repository' });
    }
    const sftp = await this.channel();
    try {
      await this.mkdirs(sftp, this.where.dir);
      const sem = new Semaphore(16);
      await Promise.all(repoDirs.map((d) => sem.run(() => this.mkdir(sftp, this.abs(d)))));
    } catch (err) {
      throw this.wrap(err, 'create', 'save');
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const sftp = await this.channel();
    const final = this.abs(filePath(h));
    const tmp = `${final}-tmp-${randomBytes(6).toString('hex')}`;
    let handle: Buffer | undefined;
    try {
      try {
        handle = await sftpCall<Buffer>((cb) => sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
      } catch (err) {
        // A pack folder (data/xx) may be missing in repositories other tools created.
        if ((err as { code?: number }).code !== NO_SUCH_FILE) throw err;
        await this.mkdirs(sftp, path.posix.dirname(final));
        handle = await sftpCall<Buffer>((cb) => sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
      }
      await writeAll(sftp, handle, data);
      await this.fsync(sftp, handle);
      await sftpCall((cb) => sftp.fsetstat(handle!, { mode: 0o400 }, cb));
      const h2 = handle;
      handle = undefined;
      await sftpCall((cb) => sftp.close(h2, cb));
      await this.rename(sftp, tmp, final);
    } catch (err) {
      if (handle) sftp.close(handle, () => undefined);
      sftp.unlink(tmp, () => undefined);
      throw this.wrap(err, `save ${filePath(h)}`, 'save');
    }
  }

  async load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    const sftp = await this.channel();
    const what = `load ${filePath(h)}`;
    let handle: Buffer | undefined;
    try {
      handle = await sftpCall<Buffer>((cb) => sftp.open(this.abs(filePath(h)), 'r', cb));
      const fileSize = async () => (await sftpCall<{ size: number }>((cb) => sftp.fstat(handle!, cb))).size;
      const want = length === 0 ? (await fileSize()) - offset : length;
      const buf = want > 0 ? await readAll(sftp, handle, offset, want) : Buffer.alloc(0);
      if (buf.length === want && want >= 0) return buf;
      // Short: asked past the end (the caller's mistake), or the transfer broke off (worth a retry).
      const size = await fileSize();
      if (offset + Math.max(want, 0) > size) {
        throw new BackendError('permanent', `${this.location}: ${what}: range ${offset}+${length} is past the end of the file (${size} bytes)`);
      }
      throw new BackendError('transient', `${this.location}: ${what}: got ${buf.length} of ${want} bytes`);
    } catch (err) {
      throw this.wrap(err, what, 'load');
    } finally {
      if (handle) sftp.close(handle, () => undefined);
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    const sftp = await this.channel();
    try {
      const st = await sftpCall<{ size: number }>((cb) => sftp.stat(this.abs(filePath(h)), cb));
      return { name: h.name, size: st.size };
    } catch (err) {
      throw this.wrap(err, `stat ${filePath(h)}`, 'load');
    }
  }

  async remove(h: Handle): Promise<void> {
    const sftp = await this.channel();
    try {
      await sftpCall((cb) => sftp.unlink(this.abs(filePath(h)), cb));
    } catch (err) {
      if ((err as { code?: number }).code === NO_SUCH_FILE) return;
      throw this.wrap(err, `remove ${filePath(h)}`, 'save');
    }
  }

  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    const sftp = await this.channel();
    const base = dirOf(type);
    const dirs = type === 'pack' ? (await this.readdir(sftp, base)).filter((e) => /^[0-9a-f]{2}$/.test(e.filename)).map((e) => `${base}/${e.filename}`) : [base];
    for (const dir of dirs) {
      for (const e of await this.readdir(sftp, dir)) {
        // 0o100000: a regular file (skips folders and links that happen to have a hex name).
        if (isValidName(e.filename) && (e.attrs.mode & 0o170000) === 0o100000) yield { name: e.filename, size: e.attrs.size };
      }
    }
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c) (await c.catch(() => undefined))?.client.end();
  }

  private abs(rel: string): string {
    return path.posix.join(this.where.dir, rel);
  }

  /** The next channel, round robin; connects on first use and again after the connection dropped. */
  private async channel(): Promise<SFTPWrapper> {
    this.conn ??= this.connect();
    const mine = this.conn;
    try {
      const { channels } = await mine;
      return channels[this.turn++ % channels.length]!;
    } catch (err) {
      if (this.conn === mine) this.conn = undefined;
      throw err;
    }
  }

  private async connect(): Promise<{ client: Client; channels: SFTPWrapper[] }> {
    const client = await connectSsh(this.target, this.opts, this.location);
    // By now `this.conn` is the promise this call returned; forget it when the connection drops,
    // so the next call reconnects (unless close() or a newer connection replaced it already).
    const mine = this.conn;
    const forget = () => {
      if (this.conn === mine) this.conn = undefined;
    };
    client.on('close', forget);
    client.on('error', forget);
    try {
      const channels = await Promise.all(Array.from({ length: this.connections }, () => sftpCall<SFTPWrapper>((cb) => client.sftp(cb))));
      return { client, channels };
    } catch (err) {
      client.end();
      throw new BackendError('permanent', `${this.location}: the server refused the SFTP subsystem: ${(err as Error).message}`, {
        cause: err, hint: 'check that the server enables SFTP (Subsystem sftp in sshd_config)',
      });
    }
  }



  private async readdir(sftp: SFTPWrapper, rel: string) {
    try {
      return await sftpCall<{ filename: string; attrs: { size: number; mode: number } }[]>((cb) => sftp.readdir(this.abs(rel), cb));
    } catch (err) {
      if ((err as { code?: number }).code === NO_SUCH_FILE) return []; // e.g. no locks/ folder yet
      throw this.wrap(err, `list ${rel}`, 'load');
    }
  }

  private async mkdirs(sftp: SFTPWrapper, dir: string): Promise<void> {
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (p !== '' && p !== '.') await this.mkdir(sftp, p);
    }
  }

  /** mkdir that succeeds if the folder exists (OpenSSH answers a bare FAILURE then). */
  private async mkdir(sftp: SFTPWrapper, dir: string): Promise<void> {
    try {
      await sftpCall((cb) => sftp.mkdir(dir, { mode: 0o700 }, cb));
    } catch (err) {
      const st = await sftpCall<{ isDirectory(): boolean }>((cb) => sftp.stat(dir, cb)).catch(() => undefined);
      if (!st?.isDirectory()) throw err;
    }
  }

  private async fsync(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
    try {
      await sftpCall((cb) => sftp.ext_openssh_fsync(handle, cb));
    } catch (err) {
      // Servers without the extension (rclone, some NAS) cannot be asked; nothing better to do.
      if (!/not support/i.test((err as Error).message)) throw err;
    }
  }

  private async rename(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    try {
      await sftpCall((cb) => sftp.ext_openssh_rename(from, to, cb));
    } catch (err) {
      if (!/not support/i.test((err as Error).message)) throw err;
      await sftpCall((cb) => sftp.rename(from, to, cb));
    }
  }

  private wrap(err: unknown, what: string, op: 'load' | 'save'): BackendError {
    if (err instanceof BackendError) return err;
    const e = err as { code?: number | string; message?: string };
    const msg = `${this.location}: ${what}: ${e.message ?? String(err)}`;
    const folder = `${this.where.dir} on ${this.target.hostName}`;
    if (e.code === NO_SUCH_FILE) {
      return op === 'load' ? new BackendError('not-found', msg, { cause: err })
        : new BackendError('permanent', msg, { cause: err, hint: `the repository folder ${folder} is missing: check the path, or run init to create it` });
    }
    if (e.code === PERMISSION_DENIED) {
      return new BackendError('permanent', msg, { cause: err, hint: `user ${this.target.user} may not ${op === 'load' ? 'read' : 'write'} ${folder}: check the folder's owner and permissions` });
    }
    if (e.code === FAILURE) return new BackendError('permanent', msg, { cause: err, hint: `the server could not do it: is the disk holding ${folder} full?` });
    // Anything else (no response, channel closed, connection reset) is the connection, not the request.
    return new BackendError('transient', msg, { cause: err });
  }
}
