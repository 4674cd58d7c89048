/**
 * After an interrupted backup: packs that reached the destination but whose index was never written
 * are read (their headers only) and indexed, so the next backup does not upload them again.
 */
import { mapLimit } from './concurrency.js';
import { encodeIndex } from './master-index.js';
import { headerReadAhead, parseTrailer, type PackedBlob } from './pack.js';
import { type Repository } from './repository.js';
import { type ID } from './hash.js';

export async function indexOrphanPacks(repo: Repository): Promise<number> {
  const orphans: { id: ID; size: number }[] = [];
  for await (const f of repo.backend.list('pack')) if (!repo.index.packs.has(f.name)) orphans.push({ id: f.name, size: f.size });
  const found: { id: ID; blobs: PackedBlob[] }[] = [];
  await mapLimit(orphans, repo.backend.connections, async ({ id, size }) => {
    try {
      const n = Math.min(size, headerReadAhead);
      let r = parseTrailer(repo.key, await repo.backend.load({ type: 'pack', name: id }, n, size - n), size);
      if (!Array.isArray(r)) r = parseTrailer(repo.key, await repo.backend.load({ type: 'pack', name: id }, r.need, size - r.need), size);
      if (Array.isArray(r)) found.push({ id, blobs: r });
    } catch {
      // A pack cut short by the interruption is unusable; prune removes it later.
    }
  });
  if (found.length === 0) return 0;
  await repo.saveUnpacked('index', encodeIndex(found));
  for (const p of found) repo.index.addPack(p.id, p.blobs);
  return found.length;
}
