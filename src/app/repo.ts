/** Opening repositories for the use-cases: location string → backend → repository. */
import { type Backend } from '../backend/backend.js';
import { openBackend } from '../backend/open.js';
import { type KdfParams, type KeyDerivation } from '../core/keys.js';
import { Repository } from '../core/repository.js';
import { attachCache } from './disk-cache.js';

export interface RepoRef {
  location: string;
  password: string;
  env: NodeJS.ProcessEnv;
  onRetry?: (msg: string) => void;
  /** How to open the key (default 'lean'): see KeyDerivation. */
  keyDerivation?: KeyDerivation;
  /** Called when the key derivation has started (see openKeyFile), with the backend. */
  onKeyDerivation?: (backend: Backend) => void;
}

export async function withBackend<T>(ref: RepoRef, fn: (b: Backend) => Promise<T>): Promise<T> {
  const backend = await openBackend(ref.location, { env: ref.env, onRetry: ref.onRetry });
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

export function withRepository<T>(ref: RepoRef, fn: (r: Repository) => Promise<T>): Promise<T> {
  return withBackend(ref, async (b) => fn(attachCache(await Repository.open(b, ref.password, ref.keyDerivation, ref.onKeyDerivation), ref.env)));
}

export function initRepository(ref: RepoRef, opts: { kdf?: KdfParams; version?: 1 | 2 } = {}): Promise<{ id: string; location: string }> {
  return withBackend(ref, async (b) => {
    const repo = await Repository.init(b, ref.password, opts);
    return { id: repo.config.id, location: b.location };
  });
}
