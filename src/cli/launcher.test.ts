import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const launcher = path.join(root, 'bin', 'keepsake');

it('the launcher runs keepsake.js beside it with the arguments as given', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const r = spawnSync(launcher, ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

it('the launcher sets two malloc arenas unless the caller chose, and finds its script through a symlink', () => {
  // The launcher itself, beside a stand-in keepsake.js that reports what it was given.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keepsake-launcher-'));
  try {
    copyFileSync(launcher, path.join(dir, 'keepsake'));
    writeFileSync(path.join(dir, 'keepsake.js'), 'console.log(JSON.stringify([process.env.MALLOC_ARENA_MAX, process.argv.slice(2)]));\n');
    const linked = path.join(dir, 'elsewhere');
    symlinkSync(path.join(dir, 'keepsake'), linked);
    const env = { ...process.env };
    delete env.MALLOC_ARENA_MAX;
    const run = (file: string, extra: NodeJS.ProcessEnv = {}) => {
      const r = spawnSync('sh', [file, 'a b', '--c'], { env: { ...env, ...extra }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as [string, string[]];
    };
    assert.deepEqual(run(path.join(dir, 'keepsake')), ['2', ['a b', '--c']]);
    assert.deepEqual(run(linked), ['2', ['a b', '--c']]);
    assert.deepEqual(run(linked, { MALLOC_ARENA_MAX: '5' }), ['5', ['a b', '--c']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
