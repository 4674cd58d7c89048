import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { addDestination, addSource, configPath, destinationPassword, loadPlan, parsePlan, savePlan } from './config.js';

test('plan round-trips through TOML with defaults filled in', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ks-plan-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'k', 'keepsake.toml');
  let plan = addSource(await loadPlan(file), { name: 'photos', path: dir, media: 'internal-disk' });
  plan = addDestination(plan, { name: 'cloud', repository: 's3:host/b', media: 'cloud', offsite: true, removable: false, rhythm: 'weekly', password_env: 'PW' });
  await savePlan(file, plan);
  assert.deepEqual(await loadPlan(file), plan);
  assert.throws(() => addSource(plan, { name: 'photos', path: '/x', media: 'nas' }), /already exists/);
});

test('a destination needs exactly one password source; bad media is refused', () => {
  assert.throws(() => parsePlan('[[destination]]\nname="a"\nrepository="/r"\nmedia="nas"\n', 'f'), /exactly one of password_file and password_env/);
  assert.throws(() => parsePlan('[[destination]]\nname="a"\nrepository="/r"\nmedia="floppy"\npassword_env="X"\n', 'f'), /media/);
  assert.throws(() => parsePlan('[[source]]\nname="a"\npath="/p"\n[[source]]\nname="a"\npath="/q"\n', 'f'), /used twice/);
  const p = parsePlan('[[destination]]\nname="a"\nrepository="/r"\nmedia="nas"\npassword_env="X"\n', 'f');
  assert.equal(p.destination[0]?.rhythm, 'daily');
  assert.equal(p.destination[0]?.offsite, false);
});

test('password files readable by others are refused with the chmod to run', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ks-pw-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'pw');
  await writeFile(f, 'secret\n');
  await chmod(f, 0o644);
  const d = { name: 'n', repository: '/r', media: 'nas' as const, offsite: false, removable: false, rhythm: 'daily' as const, password_file: f };
  await assert.rejects(destinationPassword(d, {}), (e: Error & { hint?: string }) => /can be read by others \(mode 0644\)/.test(e.message) && e.hint === `make it private: chmod 600 ${f}`);
  await chmod(f, 0o600);
  assert.equal(await destinationPassword(d, {}), 'secret');
  assert.equal(await destinationPassword({ ...d, password_file: undefined, password_env: 'P' }, { P: 'x' }), 'x');
});

test('config path follows --config, KEEPSAKE_CONFIG, XDG_CONFIG_HOME, HOME', () => {
  assert.equal(configPath({ HOME: '/h' }), '/h/.config/keepsake/keepsake.toml');
  assert.equal(configPath({ HOME: '/h', XDG_CONFIG_HOME: '/x' }), '/x/keepsake/keepsake.toml');
  assert.equal(configPath({ KEEPSAKE_CONFIG: '/c.toml' }), '/c.toml');
  assert.equal(configPath({ KEEPSAKE_CONFIG: '/c.toml' }, '/o.toml'), '/o.toml');
});
