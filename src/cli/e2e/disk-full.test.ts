/**
 * A destination disk that fills up during a backup: the backup stops with one clear message and
 * exit code 1, the repository stays valid (keepsake and restic check it clean, no snapshot), and
 * once there is room the next backup completes.
 *
 * The full disk is a small tmpfs mounted for the test (needs root, as CI has). Without the right to
 * mount, the test skips loudly on a developer machine and fails under CI=true.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { cli, hashTree, lastJson, makeCorpus, needRestic, restic, runCli, tempDir } from './harness.js';

/**
 * Run `fn` with a tmpfs of `mib` MiB mounted at WORK/disk (unmounted after, before the temp folder is
 * removed). Without the right to mount: a loud skip, or a failure under CI=true.
 */
async function withSmallDisk(t: TestContext, label: string, mib: number, fn: (work: string, disk: string) => Promise<void>): Promise<void> {
  const work = await tempDir(label);
  const disk = path.join(work, 'disk');
  mkdirSync(disk, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', disk]).status !== 0) {
    if (process.env.CI === 'true') assert.fail('cannot mount a tmpfs (root is needed); CI must run this test');
    t.diagnostic(`SKIPPED LOUDLY: cannot mount a small tmpfs here (not root?); "${t.name}" did not run`);
    t.skip('no mount');
    return;
  }
  try {
    await fn(work, disk);
  } finally {
    spawnSync('umount', [disk]);
  }
}

test('a destination disk that fills up: clear error, valid repository, the next backup completes', async (t) => {
  await withSmallDisk(t, 'disk-full', 24, (work, disk) => fillUp(t, work, disk));
});

async function fillUp(t: TestContext, work: string, disk: string): Promise<void> {
  const lib = path.join(work, 'lib');
  makeCorpus(lib, { photos: 40, videos: 1, meanMb: 1, seed: 31 });
  const repo = path.join(disk, 'repo');
  await cli(['init', '--repo', repo]);

  const r = await runCli(['backup', '--repo', repo, lib]);
  assert.equal(r.code, 1, `exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /full: free some space or choose another destination/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');

  // Nothing half-written: the repository checks clean and holds no snapshot.
  assert.equal(lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout).ok, true);
  if (needRestic(t)) await restic(['-r', repo, 'check', '--no-lock', '--read-data']);
  assert.deepEqual(JSON.parse((await cli(['snapshots', '--repo', repo, '--json'])).stdout), []);

  // More room (a larger disk in the same place): the next backup completes and restic agrees.
  spawnSync('mount', ['-o', 'remount,size=256m', disk]);
  const done = lastJson((await cli(['backup', '--repo', repo, '--json', lib])).stdout);
  assert.equal(typeof done.snapshot_id, 'string');
  assert.equal(lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout).ok, true);
  if (needRestic(t)) await restic(['-r', repo, 'check', '--read-data']);
}

test('a restore onto a disk that fills up: says so, exits non-zero, and leaves no partly written photo', async (t) => {
  await withSmallDisk(t, 'restore-full', 8, async (work, disk) => {
    const lib = path.join(work, 'lib');
    makeCorpus(lib, { photos: 30, videos: 0, meanMb: 1, seed: 33 });
    const repo = path.join(work, 'repo');
    await cli(['init', '--repo', repo]);
    await cli(['backup', '--repo', repo, '--quiet', lib]);
    const r = await runCli(['restore', '--repo', repo, 'latest', '--target', disk]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /could not be written: ENOSPC/);
    assert.doesNotMatch(r.stderr, /damaged in the repository/, 'a full disk is not damage');
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    // What is there is whole: every file left in the target equals its source.
    const source = await hashTree(lib);
    const restored = await hashTree(path.join(disk, lib));
    let files = 0;
    for (const [p, e] of restored) {
      if (e.type !== 'file') continue;
      files++;
      assert.equal(e.sha256, source.get(p)?.sha256, p);
    }
    assert.ok(files < [...source.values()].filter((e) => e.type === 'file').length, 'the disk did fill up');
  });
});
