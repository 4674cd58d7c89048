/**
 * Checking a server's host key against OpenSSH's known_hosts files, the way `ssh` does with
 * `StrictHostKeyChecking yes`: a backup runs unattended, so there is nobody to ask whether a new key
 * is genuine, and a changed key may be a machine in the middle. Both are refused; the user accepts a
 * key once by running `ssh` by hand.
 *
 * Supports plain and hashed (`|1|salt|hash`) host names, `[host]:port` for ports other than 22,
 * `*`/`?` patterns, negations, and `@revoked` lines. `@cert-authority` lines are skipped (no
 * certificate support).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostMatches } from './ssh-config.js';

export interface KnownKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`… */
  type: string;
  /** The key blob in base64, as in the file. */
  key: string;
  revoked: boolean;
}

/** The name known_hosts uses for a server: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Every key listed for `name` in `files` (missing files are skipped). */
export function findKnownKeys(files: readonly string[], name: string): KnownKey[] {
  const out: KnownKey[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split(/\r?\n/)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 3 || fields[0]!.startsWith('#')) continue;
      let marker = '';
      if (fields[0]!.startsWith('@')) marker = fields.shift()!;
      if (marker === '@cert-authority' || fields.length < 3) continue;
      const [hosts, type, key] = fields as [string, string, string];
      if (hostsMatch(hosts, name)) out.push({ type, key, revoked: marker === '@revoked' });
    }
  }
  return out;
}

function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt = '', hash = ''] = field.split('|');
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return hostMatches(name, field.split(','));
}

/** The host key algorithms to offer, so the server shows the kind of key we already know. */
export function hostKeyAlgorithms(keys: readonly KnownKey[]): string[] {
  const algs = new Set<string>();
  for (const k of keys) {
    if (k.revoked) continue;
    if (k.type === 'ssh-rsa') ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'].forEach((a) => algs.add(a));
    else algs.add(k.type);
  }
  return [...algs];
}

export type HostKeyVerdict = 'ok' | 'unknown' | 'changed' | 'revoked';

/** Judge the key blob a server presented. */
export function judgeHostKey(keys: readonly KnownKey[], presented: Buffer): HostKeyVerdict {
  const b64 = presented.toString('base64');
  if (keys.some((k) => k.revoked && k.key === b64)) return 'revoked';
  if (keys.some((k) => !k.revoked && k.key === b64)) return 'ok';
  return keys.some((k) => !k.revoked) ? 'changed' : 'unknown';
}
