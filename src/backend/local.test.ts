import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, statfs, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { BackendError } from './backend.js';
import { backendContract } from './contract.js';
import { LocalBackend, isLocalFileSystem } from './local.js';

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

it('local: saveFile moves a staged file into place, read-only; a repeated call succeeds; staged files are never listed', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-local-'));
  try {
    const b = new LocalBackend(dir);
    await b.create();
    const staging = await b.stagingDir();
    assert.equal(path.dirname(staging), path.join(dir, 'data'));
    const file = path.join(staging, 'keepsake-0123-1-0.pack');
    await writeFile(file, 'pack bytes');
    const staged: string[] = [];
    for await (const f of b.list('pack')) staged.push(f.name);
    assert.deepEqual(staged, []);
    const h = { type: 'pack', name: 'cd'.repeat(32) } as const;
    await b.saveFile(h, file);
    assert.equal(Buffer.from(await b.load(h, 0, 0)).toString(), 'pack bytes');
    assert.equal((await stat(path.join(dir, 'data', 'cd', h.name))).mode & 0o777, 0o400);
    assert.deepEqual(await readdir(staging), []);
    // A retry after a lost reply: the file was moved already.
    await b.saveFile(h, file);
    // A staged file that never existed and is not in place is an error.
    await assert.rejects(b.saveFile({ type: 'pack', name: 'ef'.repeat(32) }, file), BackendError);
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

it('local: listings count as immediate only on file systems of local disks (Linux), never on network ones', async () => {
  for (const t of [0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x2011bab0, 0x4d44]) assert.ok(isLocalFileSystem('linux', t), t.toString(16));
  // NFS, CIFS, SMB2, old smbfs, FUSE (sshfs, rclone mount, virtiofs), 9p: listings may lag.
  for (const t of [0x6969, 0xff534d42, 0xfe534d42, 0x517b, 0x65735546, 0x01021997]) assert.ok(!isLocalFileSystem('linux', t), t.toString(16));
  assert.ok(!isLocalFileSystem('darwin', 0xef53), 'other systems number file systems differently');
  const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-local-'));
  try {
    const b = new LocalBackend(dir);
    assert.equal(await b.immediateListing(), isLocalFileSystem(process.platform, (await statfs(dir)).type));
    assert.equal(await new LocalBackend(path.join(dir, 'missing')).immediateListing(), false, 'unknown is not immediate');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
