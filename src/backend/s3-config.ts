/**
 * Parsing of `s3:` repository strings and discovery of credentials, kept apart from the driver so
 * that neither needs the AWS SDK to be tested.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BackendError } from './backend.js';
import { redactLocation } from './redact.js';

export interface S3Location {
  /** `https://host[:port]` or `http://host[:port]`. */
  endpoint: string;
  bucket: string;
  /** Folder inside the bucket, without leading or trailing `/`; '' for the bucket's root. */
  prefix: string;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The forms restic accepts: `s3:https://host[:port]/bucket[/prefix]`, `s3:http://…` (plain HTTP,
 * e.g. a server on the same machine), and `s3:host[:port]/bucket[/prefix]` (meaning https), plus the
 * old `s3://host/bucket/prefix`.
 */
export function parseS3Location(location: string): S3Location {
  const bad = (why: string) =>
    new BackendError('permanent', `invalid S3 repository "${redactLocation(location)}": ${why}`, {
      hint: 'write it as s3:https://host/bucket/folder or s3:host/bucket/folder',
    });
  let scheme = 'https';
  let rest: string;
  if (/^s3:https?:\/\//.test(location)) {
    const u = new URL(location.slice(3));
    if (u.username || u.password) throw bad('credentials in the URL are not supported: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    scheme = u.protocol.slice(0, -1);
    rest = `${u.host}${decodeURIComponent(u.pathname)}`;
  } else if (location.startsWith('s3://')) {
    rest = location.slice(5);
  } else if (location.startsWith('s3:')) {
    rest = location.slice(3);
  } else {
    throw bad('it does not start with "s3:"');
  }
  const [host = '', bucket = '', ...folders] = rest.split('/');
  if (!host) throw bad('no host name found');
  if (!bucket) throw bad('no bucket name found');
  const prefix = path.posix.normalize(folders.filter((f) => f !== '').join('/') || '.');
  if (prefix.startsWith('..')) throw bad('the folder leaves the bucket');
  return { endpoint: `${scheme}://${host}`, bucket, prefix: prefix === '.' ? '' : prefix.replace(/\/+$/, '') };
}

/**
 * Credentials the way the AWS tools find them: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
 * (+ `AWS_SESSION_TOKEN`), else the profile `AWS_PROFILE` (default `default`) of the shared
 * credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`). `undefined` lets the
 * SDK try its other sources (instance roles, SSO), which read the process environment.
 */
export function findCredentials(env: NodeJS.ProcessEnv): S3Credentials | undefined {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  }
  const home = env.HOME ?? env.USERPROFILE;
  const file = env.AWS_SHARED_CREDENTIALS_FILE ?? (home ? path.join(home, '.aws', 'credentials') : undefined);
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const section = parseIni(text).get(env.AWS_PROFILE ?? 'default');
  const id = section?.get('aws_access_key_id');
  const secret = section?.get('aws_secret_access_key');
  if (!id || !secret) return undefined;
  const token = section?.get('aws_session_token');
  return { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) };
}

/** The small INI dialect of ~/.aws/credentials: `[section]`, `key = value`, `#`/`;` comments. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (sec) {
      current = new Map();
      out.set(sec[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && current) current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return out;
}
