import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { BackendError } from './backend.js';
import { backendContract } from './contract.js';
import { LocalBackend } from './local.js';

backendContract('local', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-local-'));
  return { backend: new LocalBackend(path.join(dir, 'repo')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

it('local: leaves no temp files and ignores foreign names when listing', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-local-'));
  try {
    const b = new LocalBackend(dir);
    await b.create();
    await b.save({ type: 'index', name: 'a'.repeat(64) }, Buffer.from('x'));
    await writeFile(path.join(dir, 'index', '..evil'), 'x');
    await mkdir(path.join(dir, 'data', 'zz'));
    await writeFile(path.join(dir, 'data', 'zz', 'b'.repeat(64)), 'x');
    const names: string[] = [];
    for await (const f of b.list('index')) names.push(f.name);
    assert.deepEqual(names, ['a'.repeat(64)]);
    const packs: string[] = [];
    for await (const f of b.list('pack')) packs.push(f.name);
    assert.deepEqual(packs, []);
    assert.deepEqual((await readdir(path.join(dir, 'index'))).sort(), ['..evil', 'a'.repeat(64)]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('local: a missing repository folder is a permanent error with a hint', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-local-'));
  const b = new LocalBackend(path.join(dir, 'unplugged'));
  try {
    await assert.rejects(b.save({ type: 'index', name: 'a'.repeat(64) }, Buffer.from('x')), (e: unknown) =>
      e instanceof BackendError && e.code === 'permanent' && /drive connected/.test(e.hint ?? ''));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
