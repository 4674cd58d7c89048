import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { scryptSync } from 'node:crypto';
import { it } from 'node:test';
import { MemoryBackend } from '../backend/memory.js';
import { calibrateKdf, kdfBudgetMs, minimumKdf, parseKeyFile, type KdfParams } from './keys.js';
import { Repository } from './repository.js';

/** A stand-in clock: calibration times p=1 twice, then p=4 twice, and each "takes" the next of `ms`. */
function timings(...ms: number[]): (p: KdfParams) => Promise<number> {
  const ps = [1, 1, 4, 4];
  return async (p) => {
    assert.deepEqual(p, { N: minimumKdf.N, r: minimumKdf.r, p: ps.shift() }, 'calibration times p=1 twice, then p=4 twice, at the minimum memory');
    const next = ms.shift();
    assert.ok(next !== undefined, 'more timings taken than given');
    return next;
  };
}

it('calibration raises p until a derivation fills the time budget, as restic does', async () => {
  // ~44 ms per lane and nothing else: restic picks p=11 on such a machine.
  assert.deepEqual(await calibrateKdf(500, timings(44, 45, 176, 177)), { N: 32768, r: 8, p: 11 });
  assert.deepEqual(await calibrateKdf(500, timings(100, 100, 400, 400)), { N: 32768, r: 8, p: 5 });
});

it('calibration pays the fixed part of a derivation once, not once per lane', async () => {
  // 47 ms per lane plus 12 ms per derivation: 10 lanes fit (482 ms); dividing 500 by p=1's 59 ms
  // would give 8.
  assert.deepEqual(await calibrateKdf(500, timings(59, 60, 200, 201)), { N: 32768, r: 8, p: 10 });
  // Where page faults are slow: 65 ms per lane and 100 ms to first touch the 32 MiB. p=6 opens in
  // 490 ms.
  assert.deepEqual(await calibrateKdf(500, timings(165, 170, 360, 375)), { N: 32768, r: 8, p: 6 });
});

it('calibration uses the faster of two timings, so a busy moment does not weaken the key', async () => {
  assert.deepEqual(await calibrateKdf(500, timings(250, 59, 200, 300)), { N: 32768, r: 8, p: 10 });
  assert.deepEqual(await calibrateKdf(500, timings(59, 250, 300, 200)), { N: 32768, r: 8, p: 10 });
});

it('calibration falls back to p=1\'s time per lane when the two timings make no sense', async () => {
  // p=4 faster than p=1, or more than four times as slow: a noisy clock, not a fixed cost.
  assert.deepEqual(await calibrateKdf(500, timings(60, 60, 55, 55)), { N: 32768, r: 8, p: 8 });
  assert.deepEqual(await calibrateKdf(500, timings(50, 50, 260, 260)), { N: 32768, r: 8, p: 10 });
});

it('calibration never goes below the minimum (OWASP\'s for scrypt at 32 MiB), nor to absurd p on a clock that reads zero', async () => {
  assert.deepEqual(minimumKdf, { N: 32768, r: 8, p: 3 });
  assert.deepEqual(await calibrateKdf(500, timings(200, 180, 720, 800)), minimumKdf);
  assert.deepEqual(await calibrateKdf(500, timings(900, 800, 3300, 3200)), minimumKdf);
  const fast = await calibrateKdf(500, timings(0, 0, 0, 0));
  assert.equal(fast.p, 128);
  assert.equal(fast.N, minimumKdf.N);
});

it('a new repository and a new key are calibrated, not made with the minimum', async () => {
  // Calibration times this machine, and a test suite running beside it (or a peer such as the S3
  // server) can make one moment slow enough for p=3. So a repository is made up to four times; a
  // build that always used the minimum fails all four on a machine fast enough for more.
  const keysOfNewRepository = async () => {
    const b = new MemoryBackend();
    const repo = await Repository.init(b, 'pw');
    await repo.addKey('second');
    const keys: KdfParams[] = [];
    for await (const f of b.list('key')) keys.push(parseKeyFile(await b.load({ type: 'key', name: f.name }, 0, 0)));
    assert.equal(keys.length, 2);
    for (const k of keys) {
      assert.equal(k.N, minimumKdf.N);
      assert.equal(k.r, minimumKdf.r);
      assert.ok(k.p >= minimumKdf.p, `p=${k.p}: below the minimum`);
    }
    return { b, keys };
  };
  let made = await keysOfNewRepository();
  for (let attempt = 1; attempt < 4 && made.keys.some((k) => k.p === minimumKdf.p); attempt++) made = await keysOfNewRepository();
  if (made.keys.some((k) => k.p === minimumKdf.p)) {
    // On a machine where one unit of p takes more than a quarter of the budget, calibration keeps
    // the minimum (p=3).
    const lane = Math.min(...[0, 1].map(() => {
      const t0 = performance.now();
      scryptSync('x', 'salt', 64, { N: minimumKdf.N, r: minimumKdf.r, p: 1, maxmem: 64 << 20 });
      return performance.now() - t0;
    }));
    assert.ok(lane > kdfBudgetMs / (minimumKdf.p + 1), `four repositories in a row got p=${minimumKdf.p} on a machine where one lane takes ${lane.toFixed(0)} ms`);
  }
  // And the calibrated key still opens the repository.
  await Repository.open(made.b, 'second');
});

it('the fast and side derivations open the same keys as the lean one, and refuse the same wrong password', async () => {
  const b = new MemoryBackend();
  const repo = await Repository.init(b, 'pw', { kdf: { ...minimumKdf, p: 5 } });
  for (const how of ['fast', 'side', 'lean'] as const) {
    assert.deepEqual((await Repository.open(b, 'pw', how)).key, repo.key, how);
    await assert.rejects(Repository.open(b, 'wrong', how), /wrong password/, how);
  }
});

it('without the addon (Node\'s scrypt, WebAssembly lanes on workers), every way of opening gives the key the addon\'s way gave', async () => {
  const b = new MemoryBackend();
  const repo = await Repository.init(b, 'pw', { kdf: { ...minimumKdf, p: 5 } });
  const keyFiles: Record<string, string> = {};
  for await (const f of b.list('key')) keyFiles[f.name] = Buffer.from(await b.load({ type: 'key', name: f.name }, 0, 0)).toString('base64');
  const child = `
    import { openKeyFile, parseKeyFile } from ${JSON.stringify(new URL('./keys.js', import.meta.url).href)};
    import { cryptoImplementation } from ${JSON.stringify(new URL('./crypto.js', import.meta.url).href)};
    const files = JSON.parse((await import('node:fs')).readFileSync(0, 'utf8'));
    const kf = parseKeyFile(Buffer.from(Object.values(files)[0], 'base64'));
    const out = {};
    for (const how of ['lean', 'side', 'fast']) {
      const k = await openKeyFile(kf, 'pw', how);
      out[how] = Buffer.concat([k.encrypt, k.macK, k.macR]).toString('hex');
      out[how + ' wrong'] = (await openKeyFile(kf, 'wrong', how)) === undefined;
    }
    out.crypto = cryptoImplementation();
    process.stdout.write(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { input: JSON.stringify(keyFiles), encoding: 'utf8', env: { ...process.env, KEEPSAKE_NATIVE_CRYPTO: '0' } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, string | boolean>;
  assert.notEqual(out.crypto, 'native');
  const want = Buffer.concat([repo.key.encrypt, repo.key.macK, repo.key.macR]).toString('hex');
  for (const how of ['lean', 'side', 'fast']) {
    assert.equal(out[how], want, how);
    assert.equal(out[`${how} wrong`], true, `${how}: a wrong password is refused`);
  }
});
