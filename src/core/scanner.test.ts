import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { ScanMap, ScanPacker, Scanner, type ScanInfo } from './scanner.js';

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
    await new Promise((r) => setTimeout(r, 20)); // let the file system's clock move on from the writes
    // The first scan lists new folders, which moves their access times (with relatime or
    // strictatime); fingerprints leave access times out, so the second scan finds the same.
    const one = await new Scanner(true, 1).scanPaths([dir]);
    const two = await new Scanner(true, 2).scanPaths([dir]);
    assert.equal(one.dirs.size, 12 * 4 + 1);
    assert.deepEqual([...two.dirs].sort(), [...one.dirs].sort());
    // On the main thread one folder at a time while the repository opens: all of it (never
    // released), or one folder and then the rest shared with one worker (released at once).
    const never = new Promise(() => undefined);
    const mainOnly = await new Scanner(true, 2).scanPaths([dir], { mainThreadUntil: never, mainThreadSliceMs: Infinity });
    const handedOver = await new Scanner(true, 2).scanPaths([dir], { mainThreadUntil: Promise.resolve() });
    // A folder slower than the slice (here: any) hands the rest over even if never released.
    const slow = await new Scanner(true, 2).scanPaths([dir], { mainThreadUntil: never, mainThreadSliceMs: -1 });
    assert.deepEqual([mainOnly.mainThreadUnits, slow.mainThreadUnits], [12, 1]);
    assert.ok(handedOver.mainThreadUnits >= 1 && handedOver.mainThreadUnits <= 12);
    // Sharing with the workers, a folder slower than the slice gives the rest of its batch back.
    const sharing = new Scanner(true, 2);
    const years = Array.from({ length: 12 }, (_, y) => path.join(dir, `year-${y}`));
    await (sharing as unknown as { scanInWorkers(u: string[], ms: number): Promise<void> }).scanInWorkers(years, -1);
    assert.equal(sharing.mainThreadUnits, 1);
    assert.deepEqual(years.map((y) => sharing.dirs.get(y)), years.map((y) => one.dirs.get(y)));
    for (const s of [mainOnly, handedOver, slow]) {
      assert.deepEqual([...s.dirs].sort(), [...one.dirs].sort());
      assert.deepEqual([s.files, s.bytes], [36, one.bytes]);
    }
    assert.deepEqual([one.files, one.bytes], [36, two.bytes]);

    // Reading a photo moves its access time too (a viewer, the first backup): nothing changes.
    await readFile(path.join(dir, 'year-3', 'event-1', 'a.jpg'));
    const read = await new Scanner(true, 2).scanPaths([dir]);
    assert.deepEqual([...read.dirs].sort(), [...one.dirs].sort());

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

it('packed scan results unpack exactly: odd names, no fingerprint, large counts, many pieces; units stay apart', () => {
  const units = new Set(['/lib/2019']);
  const packer = new ScanPacker(units);
  const want = new Map<string, ScanInfo>();
  for (let i = 0; i < 6000; i++) {
    const dir = `/lib/2019/${'Été à Nice ☕ 運動会 '.repeat(3)}${i}\n${i % 7 === 0 ? '\u{1F600}' : ''}`;
    const info: ScanInfo = { fingerprint: i % 5 === 0 ? '' : createHash('sha256').update(dir).digest('hex'), files: i, bytes: 2 ** 52 + i, dirs: i % 3 };
    packer.set(dir, info);
    want.set(dir, info);
  }
  packer.set('/lib/2019', { fingerprint: '', files: 1, bytes: 1, dirs: 1 }); // a unit: reported apart, not packed
  const pieces = packer.take();
  assert.ok(pieces.length > 1, 'several pieces');
  const map = new ScanMap();
  map.set('/lib', { fingerprint: 'ab'.repeat(32), files: 0, bytes: 0, dirs: 1 });
  map.addPacked(pieces);
  assert.ok(map.delete('/lib'), 'a folder at hand is forgotten');
  assert.equal(map.peek([...want.keys()][10]!), undefined, 'packed until looked up: forgetting a folder does not unpack');
  assert.equal(map.size, want.size);
  for (const [dir, info] of want) assert.deepEqual(map.get(dir), info, dir);
  assert.equal(map.get('/lib/2019'), undefined);
  assert.equal(map.get('/lib'), undefined);
  assert.ok(map.delete([...want.keys()][0]!));
  assert.equal(map.size, want.size - 1);
});
