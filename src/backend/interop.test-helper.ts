/**
 * Interoperability with the real restic: restic writes a repository through a server, keepsake's
 * driver reads it back through the same server. Every restic file except `config` is named by the
 * SHA-256 of its bytes, so loading each listed file and hashing it proves listing, naming, layout and
 * transfer agree with restic's, without decrypting anything.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Backend } from './backend.js';
import { sha256 } from './peers.test-helper.js';

const run = promisify(execFile);

/** Runs `restic` with a throwaway password; extra environment (AWS keys, RCLONE_CONFIG) in `env`. */
export async function restic(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run('restic', ['--no-cache', ...args], {
      env: { ...process.env, RESTIC_PASSWORD: 'keepsake-interop', ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`restic ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

/** `restic init` + `restic backup` of a small folder at `repo`, then read it all with `backend`. */
export async function checkResticInterop(repo: string, backend: Backend, resticArgs: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Record<string, number>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-interop-'));
  try {
    await mkdir(path.join(dir, 'photos', '2024'), { recursive: true });
    // Big incompressible files so restic writes more than one pack; small ones for tree variety.
    for (let i = 0; i < 3; i++) await writeFile(path.join(dir, 'photos', '2024', `IMG_${i}.jpg`), randomBytes(3 * 1024 * 1024 + i));
    for (let i = 0; i < 5; i++) await writeFile(path.join(dir, 'photos', `note ${i}.txt`), `note ${i}\n`);
    await restic([...resticArgs, '-r', repo, 'init'], env);
    await restic([...resticArgs, '-r', repo, 'backup', '--host', 'interop', path.join(dir, 'photos')], env);

    const counts: Record<string, number> = {};
    assert.ok((await backend.stat({ type: 'config', name: '' })).size > 0, 'config is there');
    assert.ok((await backend.load({ type: 'config', name: '' }, 0, 0)).length > 0, 'config loads');
    for (const type of ['key', 'snapshot', 'index', 'pack'] as const) {
      counts[type] = 0;
      for await (const f of backend.list(type)) {
        const data = await backend.load({ type, name: f.name }, 0, 0);
        assert.equal(data.length, f.size, `${type} ${f.name}: listed size`);
        assert.equal(sha256(data), f.name, `${type} ${f.name}: SHA-256 of the content is its name`);
        counts[type]++;
      }
      assert.ok(counts[type]! >= 1, `restic wrote at least one ${type}`);
    }
    assert.equal(counts.snapshot, 1);
    return counts;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
