/**
 * Reaching the destinations of a plan: which are plugged in, opening them with their own password,
 * and creating new ones with the chunker polynomial the others use, so that the same photo is cut
 * into the same blobs everywhere (the ledger compares copies by their blob lists, and `copy` can
 * then move blobs between destinations without re-chunking).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Backend } from '../backend/backend.js';
import { openBackend } from '../backend/open.js';
import { KeepsakeError } from '../core/errors.js';
import { type KeyDerivation } from '../core/keys.js';
import { Repository } from '../core/repository.js';
import { attachCache } from './disk-cache.js';
import { destinationPassword, type Destination, type Plan } from '../plan/config.js';

/** The folder of a local repository string, or undefined for remote ones. */
export function localFolder(location: string): string | undefined {
  if (location.startsWith('local:')) return path.resolve(location.slice(6));
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(location)?.[1];
  if (scheme === undefined || scheme.length === 1) return path.resolve(location);
  return undefined;
}

/** A removable destination whose folder is not there (the drive is unplugged): skipped, not an error. */
export function isUnplugged(d: Destination): boolean {
  if (!d.removable) return false;
  const folder = localFolder(d.repository);
  return folder !== undefined && !existsSync(folder);
}

export interface PlanEnv {
  env: NodeJS.ProcessEnv;
  onRetry?: (msg: string) => void;
  /** How to open destinations' keys (default 'lean'): see KeyDerivation. */
  keyDerivation?: KeyDerivation;
  /** Called when a destination's key derivation has started (see openKeyFile), with its backend. */
  onKeyDerivation?: (backend: Backend) => void;
}

/** Open a destination's repository (with its local cache); the caller closes `repo.backend`. */
export async function openDestination(d: Destination, penv: PlanEnv): Promise<Repository> {
  const password = await destinationPassword(d, penv.env);
  const backend = await openBackend(d.repository, { env: penv.env, onRetry: penv.onRetry });
  try {
    return attachCache(await Repository.open(backend, password, penv.keyDerivation, penv.onKeyDerivation), penv.env);
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/**
 * Start opening every one of `ds` at once: opening derives a destination's key (~0.5 s of scrypt on
 * one core) and, when remote, connects, so three destinations on two cores open in ~0.7 s instead of
 * ~1.5. A failure is reported where its promise is awaited; the caller closes what opened.
 */
export function openAll(ds: readonly Destination[], penv: PlanEnv): Map<string, Promise<Repository>> {
  const opening = new Map<string, Promise<Repository>>();
  for (const d of ds) {
    const p = openDestination(d, penv);
    p.catch(() => undefined); // not unhandled while it waits for its turn
    opening.set(d.name, p);
  }
  return opening;
}

export async function withDestination<T>(d: Destination, penv: PlanEnv, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const repo = await openDestination(d, penv);
  try {
    return await fn(repo);
  } finally {
    await repo.backend.close();
  }
}

/** The chunker polynomial of the first reachable destination of the plan, if any. */
export async function planPolynomial(plan: Plan, penv: PlanEnv, except?: string): Promise<bigint | undefined> {
  for (const d of plan.destination) {
    if (d.name === except || isUnplugged(d)) continue;
    try {
      return await withDestination(d, penv, async (r) => r.config.chunkerPolynomial);
    } catch {
      continue; // unreachable or not created yet: try the next one
    }
  }
  return undefined;
}

/** Create the repository of a destination, sharing the polynomial of the plan's other destinations. */
export async function initDestination(plan: Plan, d: Destination, penv: PlanEnv): Promise<{ id: string; sharedPolynomial: boolean }> {
  // The repository folder does not exist yet; the folder it goes in (the drive) must.
  const folder = localFolder(d.repository);
  if (d.removable && folder !== undefined && !existsSync(path.dirname(folder))) {
    throw new KeepsakeError('not-found', `destination ${d.name}: ${path.dirname(folder)} is not there; plug in the drive first`);
  }
  const chunkerPolynomial = await planPolynomial(plan, penv, d.name);
  const password = await destinationPassword(d, penv.env);
  const backend = await openBackend(d.repository, { env: penv.env, onRetry: penv.onRetry });
  try {
    const repo = await Repository.init(backend, password, { chunkerPolynomial });
    return { id: repo.config.id, sharedPolynomial: chunkerPolynomial !== undefined };
  } finally {
    await backend.close();
  }
}

export function findDestination(plan: Plan, name: string): Destination {
  const d = plan.destination.find((x) => x.name === name);
  if (!d) {
    throw new KeepsakeError('invalid-argument', `the plan has no destination "${name}"`, {
      hint: `destinations: ${plan.destination.map((x) => x.name).join(', ') || '(none)'}`,
    });
  }
  return d;
}
