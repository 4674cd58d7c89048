/**
 * A repository anywhere rclone reaches (`rclone:remote:path`): like restic, keepsake starts
 * `rclone serve restic --stdio remote:path` and speaks the REST protocol over the child's
 * stdin/stdout, so no port is opened and no password is needed.
 *
 * rclone serves HTTP/2 on stdio (not HTTP/1.1), so the transport is Node's `http2` client with the
 * child's pipes as its connection. That also multiplexes parallel requests over the one pipe, which
 * an HTTP/1.1 client could not. The protocol itself is `RestBackend`'s; only the transport differs.
 *
 * The child's stdin and stdout are one end of a Unix socket whose other end is a real `net.Socket`
 * for the HTTP/2 session. Handing http2 a generic Duplex over two pipes instead makes Node wrap it in
 * a JSStreamSocket, which dies with ERR_INTERNAL_ASSERTION (a process crash, not an error) when the
 * child exits while a write is pending (nodejs/node#35384).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BackendError } from './backend.js';
import { RestBackend, type RestRequest, type RestResponse, type RestTransport } from './rest.js';

export interface RcloneOptions {
  env: NodeJS.ProcessEnv;
  /** The rclone program (default `rclone`, or `$KEEPSAKE_RCLONE_PROGRAM`). */
  program?: string;
  connections?: number;
}

export function openRclone(location: string, opts: RcloneOptions): RestBackend {
  const remote = location.replace(/^rclone:/, '');
  if (!remote) throw new BackendError('permanent', `invalid rclone repository "${location}"`, { hint: 'write it as rclone:REMOTE:path' });
  const program = opts.program ?? opts.env.KEEPSAKE_RCLONE_PROGRAM ?? 'rclone';
  // --b2-hard-delete as restic passes it: deleted packs must go, not turn into hidden versions.
  const args = ['serve', 'restic', '--stdio', '--b2-hard-delete', remote];
  return new RestBackend(`rclone:${remote}`, new RcloneTransport(program, args, opts.env, `rclone:${remote}`), opts.connections ?? 5);
}

interface Conn {
  child: ChildProcess;
  session: http2.ClientHttp2Session;
  /** rclone answered at least once: it started fine, so a later exit is a crash, not a set-up error. */
  answered: boolean;
  exit: Promise<void>;
}

/** Starts the child with stdin and stdout on one end of a connected Unix socket; returns the other. */
async function spawnOnSocket(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ours: net.Socket; child: ChildProcess; spawnError: Promise<Error> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-rclone-'));
  const server = net.createServer();
  try {
    const sock = path.join(dir, 's');
    server.listen(sock);
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const ours = net.connect(sock);
    await once(ours, 'connect');
    const [theirs] = await accepted;
    try {
      // rclone needs its own settings, not keepsake's secrets.
      const childEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !/^KEEPSAKE_(PASSWORD|NEW_PASSWORD|REPOSITORY)/.test(k)));
      const child = spawn(program, args, { env: childEnv, stdio: [theirs, theirs, 'pipe'] });
      // Listen now: the `error` of a missing program comes on the next tick, before our caller resumes.
      const spawnError = once(child, 'error').then(([err]) => err as Error);
      return { ours, child, spawnError };
    } finally {
      theirs.destroy(); // the child holds its own copy of the descriptor
    }
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

class RcloneTransport implements RestTransport {
  private current: Promise<Conn> | undefined;
  private stderr = '';
  private exited: BackendError | undefined;

  constructor(private readonly program: string, private readonly args: string[], private readonly env: NodeJS.ProcessEnv, private readonly where: string) {}

  async request(req: RestRequest): Promise<RestResponse> {
    const conn = await this.connect();
    return new Promise<RestResponse>((resolve, reject) => {
      if (conn.session.destroyed) return reject(this.exited ?? new BackendError('transient', `${this.where}: rclone is gone${this.stderrTail()}`));
      const stream = conn.session.request({ ':method': req.method, ':path': `/${req.path}`, ...req.headers }, { endStream: !req.body });
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => {
        status = Number(h[':status']);
        headers = h;
        conn.answered = true;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (status !== 0) resolve({ status, body: Buffer.concat(chunks), header: (n) => first(headers[n.toLowerCase()]) });
      });
      // The socket breaks a moment before the exit status arrives; wait for it to say why.
      const fail = (why: string, cause?: Error) => void within(conn.exit, 2000).then(() =>
        reject(this.exited ?? new BackendError('transient', `${this.where}: ${why}${this.stderrTail()}`, cause ? { cause } : undefined)));
      stream.on('error', (err) => fail(err.message, err));
      stream.on('close', () => {
        if (status === 0) fail('rclone closed the request without an answer');
      });
      if (req.body) stream.end(req.body);
    });
  }

  async close(): Promise<void> {
    const pending = this.current;
    this.current = undefined;
    const c = await pending?.catch(() => undefined);
    if (!c) return;
    // Closing the session closes our end of the socket; rclone exits when its stdin ends.
    // (close() never calls back on a session that is already gone, e.g. after rclone crashed.)
    if (!c.session.closed && !c.session.destroyed) await new Promise<void>((resolve) => c.session.close(() => resolve()));
    const timer = setTimeout(() => c.child.kill('SIGTERM'), 5000);
    await c.exit;
    clearTimeout(timer);
  }

  /** The running child, or a new one: after a crash the next call starts rclone again. */
  private connect(): Promise<Conn> {
    this.current ??= this.start();
    return this.current;
  }

  private async start(): Promise<Conn> {
    this.exited = undefined;
    this.stderr = '';
    const { ours, child, spawnError } = await spawnOnSocket(this.program, this.args, this.env);
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-2000);
    });
    ours.on('error', () => undefined); // reported through the exit handler below
    const session = http2.connect('http://rclone', { createConnection: () => ours });
    session.on('error', () => undefined);
    let exited = () => {};
    const conn: Conn = { child, session, answered: false, exit: new Promise<void>((resolve) => (exited = resolve)) };
    const mine = this.current;
    const gone = (why: string, spawnErr?: Error) => {
      exited();
      if (this.current === mine) this.current = undefined;
      session.destroy();
      // Dying before any answer is a set-up problem (unknown remote, bad config): retrying cannot help.
      const code = conn.answered ? 'transient' : 'permanent';
      const hint = spawnErr ? 'install rclone (https://rclone.org/install/) or put it on the PATH'
        : conn.answered ? undefined : 'check the remote name and path with `rclone lsd REMOTE:` (RCLONE_CONFIG selects the config file)';
      this.exited = new BackendError(code, `${this.where}: rclone ${why}${this.stderrTail()}`, { ...(hint ? { hint } : {}), ...(spawnErr ? { cause: spawnErr } : {}) });
    };
    void spawnError.then((err) => gone(`could not be started: ${err.message}`, err));
    child.once('exit', (code, signal) => gone(signal ? `was killed by ${signal}` : `exited with status ${code}`));
    return conn;
  }

  private stderrTail(): string {
    const lines = this.stderr.trim().split('\n').filter((l) => !/NOTICE: Config file .* not found/.test(l));
    return lines.length ? `: ${lines.slice(-3).join(' / ')}` : '';
  }
}

/** Resolves when `p` settles or after `ms`, whichever comes first. */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void p.finally(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
