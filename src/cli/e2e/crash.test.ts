/**
 * Crash consistency: a backup killed with SIGKILL at 20 seeded random moments leaves a repository
 * that both keepsake and restic check clean (with --read-data), and the backup that finally
 * completes does not upload again what the killed runs had stored. Ctrl-C (SIGINT) stops a backup
 * cleanly with exit code 130.
 */
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import {
  cli, collect, diffTrees, hashTree, lastJson, makeCorpus, needRestic, prng, repoBytes, restic, spawnCli, tempDir,
} from './harness.js';

const MiB = 1024 * 1024;
const kills = 20;

describe('crash consistency', () => {
  let work: string;
  let lib: string;
  let libBytes: number;
  /** Stored bytes of one clean full backup, and how long it took. */
  let fullBytes: number;
  let fullMs: number;

  before(async () => {
    work = await tempDir('crash');
    lib = path.join(work, 'lib');
    libBytes = makeCorpus(lib, { photos: 110, videos: 4, meanMb: 1.1, seed: 21 }).totalBytes;
    assert.ok(libBytes > 120 * MiB, `library of ${libBytes} bytes`);
    const ref = path.join(work, 'reference-repo');
    await cli(['init', '--repo', ref]);
    const started = Date.now();
    await cli(['backup', '--repo', ref, '--quiet', lib]);
    fullMs = Date.now() - started;
    fullBytes = repoBytes(ref, 'data');
  });

  test(`SIGKILL at ${kills} random moments: both checkers pass after each, the final backup resumes`, async (t) => {
    const withRestic = needRestic(t);
    const rnd = prng(20240601);
    // The kills go to a few fresh repositories in turn, later and later within each: a killed run
    // writes no snapshot, so the next one reads everything again and gets further; a run that
    // completed would give the next ones a parent and leave nothing to interrupt.
    const groups = 4;
    for (let g = 0; g < groups; g++) {
      const repo = path.join(work, `repo-${g}`);
      await cli(['init', '--repo', repo]);
      const delays = Array.from({ length: kills / groups }, () => Math.round(50 + rnd() * (fullMs * 0.85 - 50))).sort((a, b) => a - b);
      const log: string[] = [];
      for (const delay of delays) {
        const child = spawnCli(['backup', '--repo', repo, '--quiet', lib]);
        const timer = setTimeout(() => child.kill('SIGKILL'), delay);
        const r = await collect(child);
        clearTimeout(timer);
        if (r.signal !== 'SIGKILL') assert.equal(r.code, 0, `a run ended by itself but failed:\n${r.stderr}`);
        const stored = repoBytes(repo, 'data');
        log.push(`repo ${g}, kill at ${delay} ms: ${r.signal ?? `exit ${r.code}`}, ${(stored / MiB).toFixed(1)} MiB stored`);
        const fail = (err: Error) => {
          throw new Error(`${log.join('\n')}\n${err.message}`);
        };
        const check = await cli(['check', '--repo', repo, '--read-data', '--json']).catch(fail);
        assert.equal(lastJson(check.stdout).ok, true);
        // --no-lock: the killed run's lock file is still there (it is keepsake's mark of an
        // interrupted run), and restic 0.14 refuses its exclusive check lock next to any lock,
        // stale or not, until `restic unlock` (as after a crash of restic itself).
        if (withRestic) await restic(['-r', repo, 'check', '--no-lock', '--read-data']).catch(fail);
      }
      const before = repoBytes(repo, 'data');
      const r = lastJson((await cli(['backup', '--repo', repo, '--json', lib])).stdout);
      const growth = repoBytes(repo, 'data') - before;
      log.push(`repo ${g}: ${(before / MiB).toFixed(1)} MiB before the final run, which added ${(growth / MiB).toFixed(1)} MiB` +
        ` (recovered: ${String(r.recovered_interrupted_run)}); a clean full backup stores ${(fullBytes / MiB).toFixed(1)} MiB`);
      t.diagnostic(log.join('\n'));
      // Nothing that arrived is uploaded again: the final run adds at most what was missing, plus
      // the packs still being written when the last kill came (a few 16 MiB packs at most).
      const slack = 3 * 16 * MiB;
      assert.ok(growth <= Math.max(0, fullBytes - before) + slack, `the final run added ${growth} bytes; ${fullBytes - before} were missing`);
      // The killed runs' half-written pack files are gone: the final run removed them.
      assert.deepEqual(readdirSync(path.join(repo, 'data', '00')).filter((n) => !/^[0-9a-f]{64}$/.test(n)), []);
      // And no run stored the library twice over.
      const total = repoBytes(repo, 'data');
      assert.ok(total <= fullBytes + slack, `the repository holds ${total} bytes for a ${fullBytes}-byte backup`);
      assert.equal(lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout).ok, true);
      // The completed backup removed the stale lock: restic can take its exclusive lock again.
      if (withRestic) await restic(['-r', repo, 'check', '--read-data']);
      if (g === groups - 1) {
        const target = path.join(work, 'restored');
        await cli(['restore', 'latest', '--repo', repo, '--target', target, '--quiet']);
        assert.deepEqual(diffTrees(await hashTree(lib), await hashTree(path.join(target, lib)), { mtimeToleranceNs: 999, modes: true }), []);
      }
    }
  });

  test('SIGKILL once most of the library is stored: the next backup adds only what is missing', async (t) => {
    // Timed kills may all land before much is stored on a fast or a busy machine; this one waits
    // until the repository holds 60% of a full backup, so the resume is always put to the test.
    const repo = path.join(work, 'progress-kill-repo');
    await cli(['init', '--repo', repo]);
    const child = spawnCli(['backup', '--repo', repo, '--quiet', lib]);
    const done = collect(child);
    const killed = await signalOnceStored(child, repo, 0.6 * fullBytes, 'SIGKILL');
    const r = await done;
    assert.ok(killed && r.signal === 'SIGKILL', `the backup ended before 60% was stored (${r.signal ?? r.code})`);
    const before = repoBytes(repo, 'data');
    assert.equal(lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout).ok, true);
    // `unlock` clears the killed run's lock (restic refuses to check next to it) and first indexes
    // what that run had uploaded, so nothing is sent again.
    const unlocked = lastJson((await cli(['unlock', '--repo', repo, '--json'])).stdout);
    assert.equal(unlocked.locks_removed, 1);
    assert.ok(Number(unlocked.packs_indexed) >= 0);
    if (needRestic(t)) await restic(['-r', repo, 'check', '--read-data']);
    const final = lastJson((await cli(['backup', '--repo', repo, '--json', lib])).stdout);
    const growth = repoBytes(repo, 'data') - before;
    t.diagnostic(`killed with ${(before / MiB).toFixed(1)} MiB stored; the next run added ${(growth / MiB).toFixed(1)} MiB of ${(fullBytes / MiB).toFixed(1)} MiB`);
    assert.equal(final.recovered_interrupted_run, false, 'unlock already cleaned up');
    // What had arrived is not uploaded again: the final run adds what was missing, plus at most the
    // packs that were complete in memory but not yet on disk when the kill came.
    assert.ok(growth <= fullBytes - before + 2 * 16 * MiB, `the final run added ${growth} bytes; ${fullBytes - before} were missing`);
    assert.ok(repoBytes(repo, 'data') <= fullBytes + 2 * 16 * MiB);
    assert.equal(lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout).ok, true);
  });

  test('SIGINT during a backup: exit 130, the repository checks clean, the next backup completes', async (t) => {
    const repo = path.join(work, 'sigint-repo');
    await cli(['init', '--repo', repo]);
    const child = spawnCli(['backup', '--repo', repo, lib]);
    const done = collect(child);
    // Interrupted once part of the library is stored, rather than after half of a reference run's
    // time: a run faster than the reference (which may have shared the machine) finished first.
    const sent = await signalOnceStored(child, repo, 0.3 * fullBytes, 'SIGINT');
    const r = await done;
    assert.ok(sent, `the backup ended before 30% was stored (exit ${r.code ?? r.signal})`);
    assert.equal(r.code, 130, `exit ${r.code ?? r.signal}\n${r.stderr}`);
    assert.match(r.stderr, /interrupted/);
    const kept = repoBytes(repo, 'data');
    await cli(['check', '--repo', repo, '--read-data']);
    if (needRestic(t)) await restic(['-r', repo, 'check', '--read-data']);
    const next = lastJson((await cli(['backup', '--repo', repo, '--json', lib])).stdout);
    assert.equal(typeof next.snapshot_id, 'string');
    const growth = repoBytes(repo, 'data') - kept;
    assert.ok(growth <= fullBytes - kept + 2 * 16 * MiB + 2 * MiB, `after SIGINT the next run added ${growth} bytes, ${kept} were kept`);
    await cli(['check', '--repo', repo]);
  });
});

/** Send `signal` to `child` once `repo` holds `bytes` of data; false if the child ended first. */
async function signalOnceStored(child: ChildProcess, repo: string, bytes: number, signal: NodeJS.Signals): Promise<boolean> {
  while (child.exitCode === null && child.signalCode === null) {
    if (repoBytes(repo, 'data') >= bytes) return child.kill(signal);
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}
