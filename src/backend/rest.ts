/**
 * A repository behind restic's REST protocol, version 2 (rest-server, `rclone serve restic`), over
 * Node's built-in `fetch`. The protocol logic sits in `RestBackend`, which talks through a small
 * `RestTransport`, so the rclone driver reuses all of it with another transport (HTTP/2 over a
 * child's pipes).
 *
 * The REST layout differs from the on-disk one in one place: packs are addressed as `data/<id>`
 * (the server picks the `data/ab/` folder), and listings come back as JSON `[{name, size}]`.
 */
import { BackendError, dirOf, isValidName, type Backend, type FileInfo, type FileType, type Handle, hasConfig } from './backend.js';
import { redactLocation, scrub } from './redact.js';

export interface RestRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'DELETE';
  /** Relative to the repository root, e.g. `keys/<id>` or `?create=true`. */
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

export interface RestResponse {
  status: number;
  header(name: string): string | undefined;
  body: Uint8Array;
}

export interface RestTransport {
  request(req: RestRequest): Promise<RestResponse>;
  close(): Promise<void>;
}

const V2 = 'application/vnd.x.restic.rest.v2';

export class RestBackend implements Backend {
  constructor(
    readonly location: string,
    private readonly transport: RestTransport,
    readonly connections: number,
    /** Strings that must never appear in messages (the password), whatever the server echoes. */
    private readonly secrets: readonly string[] = [],
  ) {}

  async create(): Promise<void> {
    if (await hasConfig(this)) {
      throw new BackendError('exists', `${this.location}: a repository already exists here`, { hint: 'choose another path, or use the existing repository' });
    }
    await this.call('create', { method: 'POST', path: '?create=true', headers: {} });
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    try {
      await this.call(`save ${this.path(h)}`, { method: 'POST', path: this.path(h), headers: { 'content-type': 'application/octet-stream' }, body: data });
    } catch (err) {
      // rest-server answers 403 to a save over an existing file (rclone overwrites). After a retry of
      // a save whose reply was lost, the file is there with our bytes (names are content hashes).
      if (err instanceof BackendError && /HTTP 403/.test(err.message) && (await this.stat(h).catch(() => undefined))?.size === data.length) {
        throw new BackendError('exists', `${this.location}: save ${this.path(h)}: the file already exists`, { cause: err });
      }
      throw err;
    }
  }

  async load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    const what = `load ${this.path(h)}`;
    const ranged = offset !== 0 || length !== 0;
    const headers: Record<string, string> = ranged ? { range: `bytes=${offset}-${length === 0 ? '' : offset + length - 1}` } : {};
    const r = await this.call(what, { method: 'GET', path: this.path(h), headers });
    let body = r.body;
    let total = Number(/\/(\d+)$/.exec(r.header('content-range') ?? '')?.[1] ?? NaN);
    if (ranged && r.status === 200) {
      // The server ignored the range and sent the whole file.
      total = body.length;
      body = body.subarray(offset, length === 0 ? undefined : offset + length);
    }
    const want = length === 0 ? (Number.isNaN(total) ? body.length : total - offset) : length;
    if (body.length === want) return body;
    if (!Number.isNaN(total) && offset + want > total) {
      throw new BackendError('permanent', `${this.location}: ${what}: range ${offset}+${length} is past the end of the file (${total} bytes)`);
    }
    throw new BackendError('transient', `${this.location}: ${what}: got ${body.length} of ${want} bytes`);
  }

  async stat(h: Handle): Promise<FileInfo> {
    const r = await this.call(`stat ${this.path(h)}`, { method: 'HEAD', path: this.path(h), headers: {} });
    const size = Number(r.header('content-length'));
    if (!Number.isSafeInteger(size)) throw new BackendError('transient', `${this.location}: stat ${this.path(h)}: no Content-Length in the reply`);
    return { name: h.name, size };
  }

  async remove(h: Handle): Promise<void> {
    try {
      await this.call(`remove ${this.path(h)}`, { method: 'DELETE', path: this.path(h), headers: {} });
    } catch (err) {
      if (!(err instanceof BackendError && err.code === 'not-found')) throw err;
    }
  }

  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    let r: RestResponse;
    try {
      r = await this.call(`list ${dirOf(type)}`, { method: 'GET', path: `${dirOf(type)}/`, headers: { accept: V2 } });
    } catch (err) {
      if (err instanceof BackendError && err.code === 'not-found') return; // no such folder yet
      throw err;
    }
    let entries: unknown;
    try {
      entries = JSON.parse(Buffer.from(r.body).toString('utf8'));
    } catch {
      entries = undefined;
    }
    if (!Array.isArray(entries) || (r.header('content-type') ?? '').split(';')[0]!.trim() !== V2) {
      throw new BackendError('permanent', `${this.location}: list ${dirOf(type)}: the server did not answer in REST protocol v2`, {
        hint: 'use rest-server 0.9 or later, or rclone 1.50 or later',
      });
    }
    for (const e of entries as unknown[]) {
      const { name, size } = (e ?? {}) as { name?: unknown; size?: unknown };
      if (typeof name === 'string' && isValidName(name) && typeof size === 'number') yield { name, size };
    }
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  private path(h: Handle): string {
    return h.type === 'config' ? 'config' : `${dirOf(h.type)}/${h.name}`;
  }



  /** One request; any status other than 2xx becomes a classified `BackendError`. */
  private async call(what: string, req: RestRequest): Promise<RestResponse> {
    let r: RestResponse;
    try {
      r = await this.transport.request(req);
    } catch (err) {
      if (err instanceof BackendError) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const detail = e.cause?.message ?? e.message;
      const hint = e.cause?.code === 'ECONNREFUSED' ? 'nothing answers there: is the REST server running?' : undefined;
      throw new BackendError(e.cause?.code === 'ENOTFOUND' ? 'permanent' : 'transient', scrub(`${this.location}: ${what}: ${detail}`, this.secrets), {
        cause: err, ...(hint ? { hint } : {}),
      });
    }
    if (r.status >= 200 && r.status < 300) return r;
    const text = req.method === 'HEAD' ? '' : Buffer.from(r.body.subarray(0, 200)).toString('utf8').trim();
    const msg = scrub(`${this.location}: ${what}: HTTP ${r.status}${text ? ` ${text}` : ''}`, this.secrets);
    if (r.status === 404) throw new BackendError('not-found', msg);
    if (r.status === 401) throw new BackendError('permanent', msg, { hint: 'check the user name and password in the repository URL' });
    if (r.status === 403) throw new BackendError('permanent', msg, { hint: 'the server refused: it may be append-only, or the user may not use this path' });
    if (r.status === 416) throw new BackendError('permanent', msg);
    if (r.status >= 500 || r.status === 408 || r.status === 429) throw new BackendError('transient', msg);
    throw new BackendError('permanent', msg);
  }
}

/** `rest:http(s)://[user:pass@]host:port/[path]` over `fetch`. */
export function openRest(location: string, connections = 5): RestBackend {
  let url: URL;
  try {
    url = new URL(location.replace(/^rest:/, ''));
  } catch {
    throw new BackendError('permanent', `invalid REST repository "${redactLocation(location)}"`, { hint: 'write it as rest:https://user:password@host:8000/path/' });
  }
  if (!/^https?:$/.test(url.protocol)) throw new BackendError('permanent', `invalid REST repository "${redactLocation(location)}": not an http(s) URL`);
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  // fetch refuses URLs with credentials; they travel in the Authorization header instead.
  url.username = '';
  url.password = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  const auth = user || pass ? `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` : undefined;
  const base = url.toString();
  const transport: RestTransport = {
    async request(req) {
      const res = await fetch(new URL(req.path, base), {
        method: req.method,
        headers: { ...req.headers, ...(auth ? { authorization: auth } : {}) },
        ...(req.body ? { body: req.body as unknown as BodyInit } : {}),
      });
      const body = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, header: (n) => res.headers.get(n) ?? undefined, body };
    },
    async close() {},
  };
  return new RestBackend(redactLocation(location), transport, connections, [pass, url.password].filter((s) => s !== ''));
}
