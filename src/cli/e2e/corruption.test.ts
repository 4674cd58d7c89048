/**
 * Corruption: one flipped byte anywhere in any pack (blob bodies, the encrypted header at the end,
 * the header length field) is found by `check --read-data` (exit 4), and its JSON report names the
 * damaged pack and at least one snapshot and file that the damage affects.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { addHandMadeFiles, cli, lastJson, makeCorpus, mutateCorpus, packFiles, prng, tempDir } from './harness.js';

interface CheckJson {
  ok: boolean;
  problems: { kind: string; pack?: string; message: string }[];
  affected: { snapshot: string; path: string }[];
}

async function writeByte(file: string, pos: number, value: number): Promise<void> {
  await fs.chmod(file, 0o600); // stored files are read-only
  const h = await fs.open(file, 'r+');
  await h.write(Buffer.of(value), 0, 1, pos);
  await h.close();
  await fs.chmod(file, 0o400);
}

/** XOR one byte of a repository file; returns a function that puts the old byte back. */
async function flipByte(file: string, pos: number, mask: number): Promise<() => Promise<void>> {
  const old = (await fs.readFile(file))[pos]!;
  await writeByte(file, pos, old ^ mask);
  return () => writeByte(file, pos, old);
}

describe('corruption', () => {
  let work: string;
  let repo: string;
  let packs: string[];
  let snapshots: string[];

  before(async () => {
    work = await tempDir('corrupt');
    const lib = path.join(work, 'lib');
    makeCorpus(lib, { photos: 30, videos: 1, meanMb: 0.5, seed: 31 });
    await addHandMadeFiles(lib);
    repo = path.join(work, 'repo');
    await cli(['init', '--repo', repo]);
    await cli(['backup', '--repo', repo, '--quiet', lib]);
    mutateCorpus(lib, 32);
    await cli(['backup', '--repo', repo, '--quiet', lib]);
    packs = packFiles(repo);
    snapshots = (JSON.parse((await cli(['snapshots', '--repo', repo, '--json'])).stdout) as { id: string }[]).map((s) => s.id);
    assert.ok(packs.length >= 3, `${packs.length} packs`);
    assert.equal(lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout).ok, true, 'clean before the test');
  });

  test('check --read-data finds every flipped byte and names the pack, snapshots and files', async (t) => {
    const rnd = prng(4242);
    const cases: { where: string; pick: (size: number, headerStart: number) => number }[] = [];
    for (let i = 0; i < 8; i++) cases.push({ where: 'anywhere', pick: (size) => Math.floor(rnd() * size) });
    for (let i = 0; i < 3; i++) cases.push({ where: 'header', pick: (size, hs) => hs + Math.floor(rnd() * (size - 4 - hs)) });
    cases.push({ where: 'header length', pick: (size) => size - 4 + Math.floor(rnd() * 4) });
    cases.push({ where: 'first byte', pick: () => 0 });
    cases.push({ where: 'last byte of blobs', pick: (_size, hs) => hs - 1 });
    for (const [i, c] of cases.entries()) {
      const pack = packs[Math.floor(rnd() * packs.length)]!;
      const id = path.basename(pack);
      const data = await fs.readFile(pack);
      const headerStart = data.length - 4 - data.readUInt32LE(data.length - 4);
      const pos = c.pick(data.length, headerStart);
      const mask = 1 + Math.floor(rnd() * 255);
      const undo = await flipByte(pack, pos, mask);
      try {
        const r = await cli(['check', '--repo', repo, '--read-data', '--json'], 4);
        const j = lastJson(r.stdout) as unknown as CheckJson;
        const what = `case ${i} (${c.where}): pack ${id.slice(0, 8)} (${data.length} bytes, header at ${headerStart}), byte ${pos} ^ ${mask}`;
        t.diagnostic(`${what}: ${j.problems.length} problem(s), ${j.affected.length} affected`);
        assert.equal(j.ok, false, what);
        assert.ok(j.problems.some((p) => p.pack === id), `${what}: no problem names the pack\n${JSON.stringify(j.problems)}`);
        assert.ok(j.affected.length >= 1, `${what}: no affected file`);
        for (const a of j.affected) {
          assert.ok(snapshots.includes(a.snapshot), `${what}: ${a.snapshot} is not a snapshot`);
          assert.match(a.path, /^\//, `${what}: affected path ${a.path}`);
        }
      } finally {
        await undo();
      }
    }
    assert.equal(lastJson((await cli(['check', '--repo', repo, '--read-data', '--json'])).stdout).ok, true, 'clean again after the last undo');
  });

  test('without --read-data, a damaged pack header is still found (exit 4)', async () => {
    const pack = packs[0]!;
    const data = await fs.readFile(pack);
    const pos = data.length - 10;
    await writeByte(pack, pos, data[pos]! ^ 0x40);
    try {
      const j = lastJson((await cli(['check', '--repo', repo, '--json'], 4)).stdout) as unknown as CheckJson;
      assert.ok(j.problems.some((p) => p.pack === path.basename(pack)));
    } finally {
      await writeByte(pack, pos, data[pos]!);
    }
  });
});
