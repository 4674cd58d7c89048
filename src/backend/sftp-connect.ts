/**
 * Opening an SSH connection for the SFTP driver: the repository string, the user's ssh config, host
 * key checking against known_hosts, and authentication by the agent or key files, in OpenSSH's order.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client, ConnectConfig } from 'ssh2';
import { BackendError } from './backend.js';
import { redactLocation } from './redact.js';
import { findKnownKeys, hostKeyAlgorithms, judgeHostKey, knownHostsName } from './known-hosts.js';
import { resolveSshHost, type SshHost } from './ssh-config.js';

export interface SftpLocation {
  host: string;
  user: string | undefined;
  port: number | undefined;
  /** Absolute, or relative to the login folder; no trailing `/`. */
  dir: string;
}

/**
 * restic's forms: `sftp:user@host:/path`, `sftp:host:relative/path`, and
 * `sftp://user@host:port//absolute/path` (the URL path minus its first `/`, so `/rel` is relative).
 */
export function parseSftpLocation(location: string): SftpLocation {
  const bad = (why: string) => new BackendError('permanent', `invalid SFTP repository "${redactLocation(location)}": ${why}`, {
    hint: 'write it as sftp:user@host:/path/to/repo or sftp://user@host:port//path/to/repo',
  });
  let user: string | undefined;
  let host: string;
  let port: number | undefined;
  let dir: string;
  if (location.startsWith('sftp://')) {
    const u = new URL(location);
    if (u.password) throw bad('passwords in the URL are not supported: use a key or ssh-agent');
    user = u.username ? decodeURIComponent(u.username) : undefined;
    host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    port = u.port ? Number(u.port) : undefined;
    dir = decodeURIComponent(u.pathname).slice(1);
  } else if (location.startsWith('sftp:')) {
    const rest = location.slice(5);
    const colon = rest.indexOf(':');
    if (colon < 0) throw bad('host name or path not found');
    const userHost = rest.slice(0, colon);
    dir = rest.slice(colon + 1);
    const at = userHost.lastIndexOf('@');
    user = at >= 0 ? userHost.slice(0, at) : undefined;
    host = userHost.slice(at + 1);
  } else {
    throw bad('it does not start with "sftp:"');
  }
  if (!host) throw bad('no host name');
  if (!dir) throw bad('no folder');
  const clean = path.posix.normalize(dir).replace(/(.)\/+$/, '$1');
  if (clean.startsWith('~')) throw bad('the folder starts with "~", which most SFTP servers do not expand; a relative path is relative to the home folder');
  return { host, user, port, dir: clean };
}

/** What `connect` needs besides the location: the environment and, like `ssh -F`, a config file. */
export interface SftpConnectOptions {
  env: NodeJS.ProcessEnv;
  configFile?: string | undefined;
}

export function resolveTarget(loc: SftpLocation, opts: SftpConnectOptions): SshHost {
  return resolveSshHost(loc.host, { env: opts.env, configFile: opts.configFile }, {
    ...(loc.user ? { user: loc.user } : {}), ...(loc.port ? { port: loc.port } : {}),
  });
}

/** Connect and authenticate; rejects with a `BackendError` that says what to do. */
export async function connectSsh(target: SshHost, opts: SftpConnectOptions, where: string): Promise<Client> {
  const { Client } = (await import('ssh2')).default;
  const name = knownHostsName(target.hostKeyAlias ?? target.hostName, target.port);
  const keys = findKnownKeys(target.knownHostsFiles, name);
  const accept = `run \`ssh ${sshArgs(target, opts)}\` once to check the server's key fingerprint and accept it`;
  if (keys.filter((k) => !k.revoked).length === 0) {
    throw new BackendError('permanent', `${where}: the host key of ${name} is not in known_hosts (${target.knownHostsFiles[0]})`, { hint: accept });
  }
  let verdict = 'ok';
  const auth = authMethods(target, opts.env);
  const config: ConnectConfig = {
    host: target.hostName,
    port: target.port,
    username: target.user,
    readyTimeout: 20_000,
    keepaliveInterval: 15_000,
    algorithms: { serverHostKey: hostKeyAlgorithms(keys) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
    hostVerifier: (key: Buffer) => (verdict = judgeHostKey(keys, key)) === 'ok',
    authHandler: auth.methods,
  };
  const client = new Client();
  return new Promise<Client>((resolve, reject) => {
    client.once('ready', () => resolve(client));
    client.once('error', (err: Error & { level?: string; code?: string }) => {
      client.end();
      if (verdict === 'changed' || verdict === 'revoked') {
        reject(new BackendError('permanent', `${where}: the host key of ${name} has CHANGED (or is revoked): someone could be intercepting the connection`, {
          hint: `if the server was reinstalled, remove its old line from known_hosts (ssh-keygen -R '${name}'), then ${accept}`, cause: err,
        }));
      } else if (/host key/i.test(err.message)) {
        // The server offers none of the key types known_hosts holds for it: also a changed key.
        reject(new BackendError('permanent', `${where}: ${name} offers no host key of the kinds known_hosts lists for it (${hostKeyAlgorithms(keys).join(', ')})`, {
          hint: `if the server was reinstalled, remove its old line from known_hosts (ssh-keygen -R '${name}'), then ${accept}`, cause: err,
        }));
      } else if (err.level === 'client-authentication') {
        reject(new BackendError('permanent', `${where}: the server refused every key for user ${target.user}${auth.skipped.length ? ` (skipped, encrypted: ${auth.skipped.join(', ')})` : ''}`, {
          hint: `add your public key to ~/.ssh/authorized_keys of ${target.user} on ${target.hostName}, or load an encrypted key into ssh-agent; \`ssh ${sshArgs(target, opts)}\` must log in without a password`,
          cause: err,
        }));
      } else {
        const refused = err.code === 'ECONNREFUSED' ? `is the SSH server running on ${target.hostName} port ${target.port}?` : undefined;
        reject(new BackendError(err.code === 'ENOTFOUND' ? 'permanent' : 'transient', `${where}: connecting to ${target.hostName}:${target.port}: ${err.message}`, {
          cause: err, ...(refused ? { hint: refused } : err.code === 'ENOTFOUND' ? { hint: 'check the host name' } : {}),
        }));
      }
    });
    client.connect(config);
  });
}

function sshArgs(t: SshHost, opts: SftpConnectOptions): string {
  return `${opts.configFile ? `-F ${opts.configFile} ` : ''}${t.port !== 22 && t.alias === t.hostName ? `-p ${t.port} ` : ''}${t.user}@${t.alias}`;
}

/** The agent first (if any), then each readable, unencrypted key file, as OpenSSH tries them. */
function authMethods(t: SshHost, env: NodeJS.ProcessEnv): { methods: NonNullable<ConnectConfig['authHandler']>; skipped: string[] } {
  const methods: { type: 'agent' | 'publickey'; username: string; agent?: string; key?: Buffer }[] = [];
  const skipped: string[] = [];
  if (env.SSH_AUTH_SOCK && !t.identitiesOnly) methods.push({ type: 'agent', username: t.user, agent: env.SSH_AUTH_SOCK });
  for (const f of t.identityFiles) {
    let key: Buffer;
    try {
      key = readFileSync(f);
    } catch {
      continue; // OpenSSH silently skips missing default keys too
    }
    if (isEncrypted(key)) {
      skipped.push(path.basename(f));
      continue;
    }
    methods.push({ type: 'publickey', username: t.user, key });
  }
  if (env.SSH_AUTH_SOCK && t.identitiesOnly) methods.push({ type: 'agent', username: t.user, agent: env.SSH_AUTH_SOCK });
  return { methods: methods as NonNullable<ConnectConfig['authHandler']>, skipped };
}

/** PEM keys say ENCRYPTED in their header; OpenSSH-format keys name their cipher inside the base64. */
function isEncrypted(pem: Buffer): boolean {
  const text = pem.toString('latin1');
  if (text.includes('ENCRYPTED')) return true;
  const b64 = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(text)?.[1]?.replace(/\s+/g, '');
  if (!b64) return false;
  const raw = Buffer.from(b64, 'base64');
  // "openssh-key-v1\0", then a length-prefixed cipher name: "none" for unencrypted keys.
  if (raw.length < 19) return false;
  const len = raw.readUInt32BE(15);
  return raw.subarray(19, 19 + len).toString() !== 'none';
}
