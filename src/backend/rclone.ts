/**
 * A repository anywhere rclone reaches (`rclone:remote:path`): like restic, keepsake starts
 * `rclone serve restic --stdio remote:path` and speaks the REST protocol over the child's
 * stdin/stdout, so no port is opened and no password is needed.
 *
 * rclone serves HTTP/2 on stdio (not HTTP/1.1), so the transport is Node's `http2` client with the
 * child's pipes as its connection. That also multiplexes parallel requests over the one pipe, which
 * an HTTP/1.1 client could not. The protocol itself is `RestBackend`'s; only the transport differs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { Duplex } from 'node:stream';
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

class RcloneTransport implements RestTransport {
  private current: { child: ChildProcess; session: http2.ClientHttp2Session; answered: boolean; exit: Promise<void> } | undefined;
  private stderr = '';
  private exited: BackendError | undefined;

  constructor(private readonly program: string, private readonly args: string[], private readonly env: NodeJS.ProcessEnv, private readonly where: string) {}

  request(req: RestRequest): Promise<RestResponse> {
    const conn = this.connect();
    return new Promise<RestResponse>((resolve, reject) => {
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
      stream.on('error', (err) => reject(this.exited ?? new BackendError('transient', `${this.where}: ${err.message}${this.stderrTail()}`, { cause: err })));
      stream.on('close', () => {
        if (status !== 0) return;
        // The pipe closes a moment before the exit status arrives; wait for it to say why.
        void within(conn.exit, 2000).then(() =>
          reject(this.exited ?? new BackendError('transient', `${this.where}: rclone closed the request without an answer${this.stderrTail()}`)));
      });
      if (req.body) stream.end(req.body);
    });
  }

  async close(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    if (!c) return;
    c.session.close();
    c.child.stdin?.end(); // rclone exits when its stdin closes
    const done = new Promise<void>((resolve) => (c.child.exitCode !== null || c.child.signalCode !== null ? resolve() : c.child.once('exit', () => resolve())));
    const timer = setTimeout(() => c.child.kill('SIGTERM'), 5000);
    await done;
    clearTimeout(timer);
  }

  /** The running child, or a new one: after a crash the next call starts rclone again. */
  private connect(): NonNullable<RcloneTransport['current']> {
    if (this.current) return this.current;
    this.exited = undefined;
    this.stderr = '';
    const child = spawn(this.program, this.args, { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-2000);
    });
    const pipe = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
    pipe.on('error', () => undefined); // reported through the exit handler below
    const session = http2.connect('http://rclone', { createConnection: () => pipe });
    session.on('error', () => undefined);
    let exited = () => {};
    const conn = { child, session, answered: false, exit: new Promise<void>((resolve) => (exited = resolve)) };
    const gone = (why: string, spawnErr?: Error) => {
      exited();
      if (this.current === conn) this.current = undefined;
      session.destroy();
      // Dying before any answer is a set-up problem (unknown remote, bad config): retrying cannot help.
      const code = conn.answered ? 'transient' : 'permanent';
      const hint = spawnErr ? 'install rclone (https://rclone.org/install/) or put it on the PATH'
        : conn.answered ? undefined : 'check the remote name and path with `rclone lsd REMOTE:` (RCLONE_CONFIG selects the config file)';
      this.exited = new BackendError(code, `${this.where}: rclone ${why}${this.stderrTail()}`, { ...(hint ? { hint } : {}), ...(spawnErr ? { cause: spawnErr } : {}) });
    };
    child.once('error', (err) => gone(`could not be started: ${err.message}`, err));
    child.once('exit', (code, signal) => gone(signal ? `was killed by ${signal}` : `exited with status ${code}`));
    this.current = conn;
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
