import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Write a file only this user may read (mode 0600, folder 0700), atomically: a temporary file in the
 * same folder, renamed over the old one, so a crash leaves the old file or the new one, never half.
 * `data` may come in pieces (an iterable of strings), written as they come.
 */
export async function writePrivateFile(file: string, data: string | Uint8Array | Iterable<string>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const f = await open(tmp, 'w', 0o600);
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) {
        await f.writeFile(data);
      } else {
        // Pieces are gathered to about 1 MiB per write: a large file is never one string in memory.
        let batch: string[] = [];
        let size = 0;
        for (const piece of data) {
          batch.push(piece);
          size += piece.length;
          if (size >= 1 << 20) {
            await f.writeFile(batch.join(''));
            batch = [];
            size = 0;
          }
        }
        if (batch.length > 0) await f.writeFile(batch.join(''));
      }
    } finally {
      await f.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
