/**
 * Just enough of OpenSSH's client configuration (`ssh_config(5)`) for keepsake to reach the same
 * servers, with the same keys, as the user's `ssh` command does: `Host` aliases and the options
 * HostName, Port, User, IdentityFile, UserKnownHostsFile, HostKeyAlias and IdentitiesOnly.
 *
 * OpenSSH semantics: for each option the first value found wins, reading the user's file before the
 * system one; IdentityFile accumulates; `Host` lines hold patterns with `*` and `?` and negations `!`.
 * `Match` blocks are not evaluated (their options are ignored), `Include` is followed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';

export interface SshHost {
  /** The name given, e.g. an alias `nas`. */
  alias: string;
  hostName: string;
  port: number;
  user: string;
  identityFiles: string[];
  identitiesOnly: boolean;
  knownHostsFiles: string[];
  /** The name to look up in known_hosts instead of the host name (HostKeyAlias). */
  hostKeyAlias: string | undefined;
}

export interface SshConfigSources {
  env: NodeJS.ProcessEnv;
  /** Like `ssh -F file`: only this file is read. Default ~/.ssh/config, then /etc/ssh/ssh_config. */
  configFile?: string | undefined;
}

type Options = Map<string, string[]>;

/** Options for `alias` from the config files; `user`/`port` given in the repository string win. */
export function resolveSshHost(alias: string, src: SshConfigSources, given: { user?: string; port?: number } = {}): SshHost {
  const home = src.env.HOME ?? userInfo().homedir;
  const files = src.configFile ? [src.configFile] : [path.join(home, '.ssh', 'config'), '/etc/ssh/ssh_config'];
  const opts: Options = new Map();
  for (const f of files) readConfig(f, alias, opts, home, 0);
  const one = (k: string) => opts.get(k)?.[0];
  const hostName = (one('hostname') ?? alias).replace(/%h/g, alias);
  const user = given.user ?? one('user') ?? src.env.USER ?? src.env.LOGNAME ?? userInfo().username;
  const expand = (p: string) => expandPath(p, { home, hostName, user, alias });
  const ids = opts.get('identityfile')?.map(expand) ?? ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((k) => path.join(home, '.ssh', k));
  const known = opts.get('userknownhostsfile')?.filter((v) => v !== 'none').map(expand)
    ?? [path.join(home, '.ssh', 'known_hosts'), path.join(home, '.ssh', 'known_hosts2')];
  return {
    alias,
    hostName,
    port: given.port ?? Number(one('port') ?? 22),
    user,
    identityFiles: ids,
    identitiesOnly: one('identitiesonly')?.toLowerCase() === 'yes',
    knownHostsFiles: [...known, '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
    hostKeyAlias: one('hostkeyalias'),
  };
}

function readConfig(file: string, alias: string, opts: Options, home: string, depth: number): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return; // a missing file is normal (no ~/.ssh/config)
  }
  let active = true; // options before the first Host line apply to every host
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(raw);
    if (!m || raw.trimStart().startsWith('#')) continue;
    const key = m[1]!.toLowerCase();
    const values = splitArgs(m[2]!);
    if (key === 'host') active = hostMatches(alias, values);
    else if (key === 'match') active = false;
    else if (!active) continue;
    else if (key === 'include' && depth < 8) {
      for (const v of values) for (const f of globFiles(expandPath(v, { home }), path.dirname(file))) readConfig(f, alias, opts, home, depth + 1);
    } else if (key === 'identityfile') opts.set(key, [...(opts.get(key) ?? []), ...values]);
    else if (!opts.has(key)) opts.set(key, key === 'userknownhostsfile' ? values : [values[0] ?? '']);
  }
}

/** A `Host` line matches if any pattern matches and no negated pattern does. */
export function hostMatches(name: string, patterns: readonly string[]): boolean {
  let hit = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1)).test(name)) return false;
    } else if (wildcard(p).test(name)) hit = true;
  }
  return hit;
}

export function wildcard(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i');
}

/** Splits on spaces, keeping "quoted strings" whole. */
function splitArgs(s: string): string[] {
  return [...s.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function expandPath(p: string, t: { home: string; hostName?: string; user?: string; alias?: string }): string {
  let out = p.replace(/^~(?=\/|$)/, t.home).replace(/%d/g, t.home).replace(/%%/g, '%');
  if (t.hostName) out = out.replace(/%h/g, t.hostName);
  if (t.user) out = out.replace(/%r/g, t.user);
  if (t.alias) out = out.replace(/%n/g, t.alias);
  return path.isAbsolute(out) ? out : path.join(t.home, '.ssh', out);
}

/** `Include` takes globs in the last path component (e.g. /etc/ssh/ssh_config.d/*.conf). */
function globFiles(pattern: string, relTo: string): string[] {
  const abs = path.isAbsolute(pattern) ? pattern : path.join(relTo, pattern);
  const dir = path.dirname(abs);
  const base = path.basename(abs);
  if (!/[*?]/.test(base)) return [abs];
  try {
    return readdirSync(dir).filter((f) => wildcard(base).test(f)).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}
