/**
 * The one place where a repository string becomes a backend: the driver for its scheme, wrapped in a
 * connection limiter and then in retries (driver → limiter → retry, as restic composes them: a call
 * waiting for its retry does not hold a connection slot).
 *
 * Repository strings are parsed as restic parses them — `local:/path`, `s3:…`, `sftp:…`, `rest:…`,
 * `rclone:…`, anything else a folder — with one safety net restic lacks: `word:` at the start that is
 * no known scheme (`s4:bucket`, `b2:bucket`) is refused instead of silently becoming a local folder
 * named `s4:bucket`. A folder whose name holds a colon is written `./name:x` or `local:name:x`.
 */
import path from 'node:path';
import { BackendError, type Backend } from './backend.js';
import { LimiterBackend } from './limiter.js';
import { LocalBackend } from './local.js';
import { redactLocation } from './redact.js';
import { openRest } from './rest.js';
import { RetryBackend } from './retry.js';

export { redactLocation } from './redact.js';

export interface OpenOptions {
  env: NodeJS.ProcessEnv;
  /** Told about each retry of a transient failure (one line, no secrets). */
  onRetry?: ((msg: string) => void) | undefined;
  /** Without retries and limits: for tests and tools that want the driver's own behaviour. */
  raw?: boolean;
}

const supported = ['local', 's3', 'sftp', 'rest', 'rclone'];
const resticOnly = ['b2', 'azure', 'gs', 'swift'];

/** The driver for a repository string, without wrappers. */
export async function openDriver(location: string, opts: OpenOptions): Promise<Backend> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(location)?.[1]?.toLowerCase();
  // A single letter is a Windows drive (C:\photos), as restic treats it.
  if (scheme === undefined || scheme.length === 1) return new LocalBackend(path.resolve(location));
  switch (scheme) {
    case 'local':
      return new LocalBackend(path.resolve(location.slice(6)));
    case 's3': {
      const { S3Backend } = await import('./s3.js');
      // Like restic's `-o s3.bucket-lookup=auto|dns|path`: auto is path style except on amazonaws.com.
      const lookup = opts.env.KEEPSAKE_S3_BUCKET_LOOKUP ?? 'auto';
      if (!['auto', 'dns', 'path'].includes(lookup)) {
        throw new BackendError('permanent', `KEEPSAKE_S3_BUCKET_LOOKUP must be auto, dns or path, not "${lookup}"`);
      }
      return new S3Backend(location, { env: opts.env, ...(lookup === 'auto' ? {} : { pathStyle: lookup === 'path' }) });
    }
    case 'sftp': {
      const { SftpBackend } = await import('./sftp.js');
      // KEEPSAKE_SSH_CONFIG is keepsake's `ssh -F`: an ssh config file read instead of ~/.ssh/config.
      return new SftpBackend(location, { env: opts.env, configFile: opts.env.KEEPSAKE_SSH_CONFIG });
    }
    case 'rest':
      return openRest(location);
    case 'rclone': {
      const { openRclone } = await import('./rclone.js');
      return openRclone(location, { env: opts.env });
    }
  }
  const shown = redactLocation(location);
  if (resticOnly.includes(scheme)) {
    throw new BackendError('permanent', `keepsake cannot use "${scheme}:" repositories yet (${shown})`, {
      hint: `reach the same storage through rclone: rclone:REMOTE:path (see \`rclone config\`)`,
    });
  }
  throw new BackendError('permanent', `unknown repository type "${scheme}:" in ${shown}`, {
    hint: `use one of ${supported.map((s) => `${s}:`).join(', ')} or a folder path (write ./${shown} for a folder whose name has a colon)`,
  });
}

/** The backend for a repository string, with connection limit and retries. */
export async function openBackend(location: string, opts: OpenOptions): Promise<Backend> {
  const driver = await openDriver(location, opts);
  if (opts.raw) return driver;
  return new RetryBackend(new LimiterBackend(driver, driver.connections), opts.onRetry ? { onRetry: opts.onRetry } : {});
}
