import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { Scanner } from './scanner.js';

it('scanning in worker threads gives exactly the fingerprints of a scan on one thread; a deep change reaches the root', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-scan-'));
  try {
    for (let y = 0; y < 12; y++) {
      for (let e = 0; e < 3; e++) {
        const d = path.join(dir, `year-${y}`, `event-${e}`);
        await mkdir(d, { recursive: true });
        await writeFile(path.join(d, 'a.jpg'), `${y}-${e}`);
      }
    }
    await symlink('year-0', path.join(dir, 'link'));
    // Listing a new folder moves its access time (which fingerprints include): settle them first.
    await new Scanner(true, 1).scanPaths([dir]);
    const one = await new Scanner(true, 1).scanPaths([dir]);
    const two = await new Scanner(true, 2).scanPaths([dir]);
    assert.equal(one.dirs.size, 12 * 4 + 1);
    assert.deepEqual([...two.dirs].sort(), [...one.dirs].sort());
    assert.deepEqual([one.files, one.bytes], [36, two.bytes]);

    const deep = path.join(dir, 'year-7', 'event-2', 'a.jpg');
    await utimes(deep, new Date(), new Date(Date.now() + 60_000));
    const after = await new Scanner(true, 2).scanPaths([dir]);
    for (const d of [dir, path.join(dir, 'year-7'), path.join(dir, 'year-7', 'event-2')]) {
      assert.notEqual(after.dirs.get(d)!.fingerprint, one.dirs.get(d)!.fingerprint, d);
    }
    assert.equal(after.dirs.get(path.join(dir, 'year-6'))!.fingerprint, one.dirs.get(path.join(dir, 'year-6'))!.fingerprint);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
