/**
 * Pack IDs verified while the key is being derived. `check --read-data` proves that every pack's
 * SHA-256 is its name, and that needs no key; everything else it does waits for the key. A lean key
 * derivation (scrypt, ~0.5 s) keeps one core busy and the main thread idle, so the main thread
 * hashes pack files meanwhile, and the check proper then skips their hash. Local files only: there
 * a pack read twice costs a copy from the page cache, where from a remote destination it would
 * cost a second download.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { type Backend } from '../backend/backend.js';
import { type ID } from './hash.js';

export interface Prehash {
  /** Settles when every pack has been hashed, or the hashing stopped. */
  readonly done: Promise<void>;
  /** Stop (a pack half hashed is dropped) and give the packs whose content matched their name, with their sizes. */
  stop(): Promise<Map<ID, number>>;
}

/** Hash `backend`'s pack files, one after another, until stop() is called. */
export function prehashPacks(backend: Backend, readSize = 1024 * 1024): Prehash {
  let stopped = false;
  const verified = new Map<ID, number>();
  const run = async (): Promise<void> => {
    if (!backend.localFile) return;
    // Two buffers: the next read runs on libuv's pool while this thread hashes the last one.
    const bufs = [Buffer.allocUnsafe(readSize), Buffer.allocUnsafe(readSize)];
    for await (const f of backend.list('pack')) {
      if (stopped) return;
      // A file that cannot be read here is simply not verified: the check proper reads it and says why.
      const fh = await open(backend.localFile({ type: 'pack', name: f.name }), 'r').catch(() => undefined);
      if (!fh) continue;
      let pending: Promise<{ bytesRead: number }> | undefined;
      try {
        const hash = createHash('sha256');
        let size = 0;
        let i = 0;
        pending = fh.read(bufs[i]!, 0, readSize, 0);
        for (;;) {
          const { bytesRead } = await pending;
          pending = undefined;
          if (stopped) return;
          if (bytesRead === 0) break;
          const got = bufs[i]!.subarray(0, bytesRead);
          size += bytesRead;
          i ^= 1;
          pending = fh.read(bufs[i]!, 0, readSize, size);
          hash.update(got);
        }
        if (hash.digest('hex') === f.name) verified.set(f.name, size);
      } catch {
        // As above: left to the check proper.
      } finally {
        await pending?.catch(() => undefined);
        await fh.close();
      }
    }
  };
  // A listing that fails ends the hashing; the check proper lists again and reports.
  const running = run().catch(() => undefined);
  return {
    done: running,
    async stop() {
      stopped = true;
      await running;
      return verified;
    },
  };
}
