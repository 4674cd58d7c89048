/** Use-case: copy the snapshots one destination has and another lacks (shared lock on the source, as restic). */
import { copySnapshots, missingIn, type CopyStats } from '../core/copy.js';
import { acquireLock } from '../core/lock.js';
import { type Repository } from '../core/repository.js';
import { newestFirst } from '../core/snapshot.js';

export async function runCopy(from: Repository, to: Repository, opts: { dryRun?: boolean } = {}): Promise<CopyStats & { missing: string[] }> {
  const lockFrom = await acquireLock(from, { exclusive: false });
  try {
    const lockTo = await acquireLock(to, { exclusive: false });
    try {
      await from.loadIndex();
      await to.loadIndex();
      const todo = missingIn(await from.snapshots(), await to.snapshots()).sort(newestFirst).reverse();
      const missing = todo.map((s) => s.id);
      if (opts.dryRun) return { snapshots: 0, blobsCopied: 0, bytesCopied: 0, missing };
      return { ...(await copySnapshots(from, to, todo)), missing };
    } finally {
      await lockTo.release();
    }
  } finally {
    await lockFrom.release();
  }
}
