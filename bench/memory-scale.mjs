// How peak memory grows with the library: the issue asks that it not grow with the library's size
// beyond the index. Generates libraries of several sizes (more small files; more bytes in ~4 MiB
// photos), runs keepsake and restic on each (first backup, a no-change backup, a restore) and prints
// peak RSS per size with the growth per 10,000 files or per GiB. One run per size: RSS moves by a few
// MiB between runs, far less than what is measured here.
//
//   npm run bench:memory     # ~15k/30k/59k/118k small files; 100/200/400/800 photos (0.4-3.4 GiB)
//   MEMSCALE_SMALL=2000,4000 MEMSCALE_PHOTOS=20,40 npm run bench:memory   # a quick look
// (MEMSCALE_SMALL and MEMSCALE_PHOTOS count the generator's photos; it adds sidecars and duplicates.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIB } from './lib/config.mjs';
import { haveGnuTime, runTimed, syncDisks } from './lib/exec.mjs';
import { createCorpus, rmrf } from './lib/fsutil.mjs';
import { pickTools, TOOLS } from './lib/tools.mjs';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (m) => process.stderr.write(`[memory ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const list = (v, dflt) => (v ? v.split(',').map(Number) : dflt);

// Small photos are 20 KB on average, the others 4 MiB.
const fileSizes = list(process.env.MEMSCALE_SMALL, [12_500, 25_000, 50_000, 100_000]);
const photoSizes = list(process.env.MEMSCALE_PHOTOS, [100, 200, 400, 800]);

async function main() {
  if (!haveGnuTime()) throw new Error('GNU time is needed for peak RSS: run bench/setup.sh');
  const tools = pickTools(['keepsake', 'restic'], log);
  const tmpRoot = fs.mkdtempSync(path.join(process.env.BENCH_TMP || os.tmpdir(), 'keepsake-memory-'));
  const rows = [];
  try {
    for (const photos of fileSizes) rows.push(await measure(tmpRoot, tools, 'files', { photos, videos: 0, meanMb: 0.02, seed: 3 }));
    for (const photos of photoSizes) rows.push(await measure(tmpRoot, tools, 'bytes', { photos, videos: 0, meanMb: 4, seed: 1 }));
  } finally {
    rmrf(tmpRoot);
  }
  print(rows, tools);
}

async function measure(tmpRoot, tools, kind, spec) {
  const dir = path.join(tmpRoot, `${kind}-${spec.photos}`);
  const lib = path.join(dir, 'library');
  const corpus = createCorpus(projectRoot, lib, spec);
  log(`${kind}: ${corpus.files} files, ${(corpus.totalBytes / MIB).toFixed(0)} MiB`);
  const row = { kind, files: corpus.files, bytes: corpus.totalBytes, rss: {} };
  for (const tool of tools) {
    const t = TOOLS[tool];
    const ctx = { projectRoot, toolTmp: path.join(dir, tool), repo: path.join(dir, tool, 'repo') };
    const env = { ...process.env, XDG_CACHE_HOME: path.join(ctx.toolTmp, 'xdg-cache'), ...t.env(ctx) };
    const run = async (name, spec2) => {
      syncDisks();
      const r = await runTimed({ ...spec2, cwd: spec2.cwd ?? dir, env, logFile: path.join(dir, 'logs', `${tool}-${name}.log`), timeoutSec: 3600, useGnuTime: true });
      return r.rssKiB / 1024;
    };
    await run('init', t.init(ctx, ctx.repo));
    const target = path.join(ctx.toolTmp, 'restored');
    fs.mkdirSync(target, { recursive: true });
    row.rss[tool] = {
      first: await run('first', t.backup(ctx, ctx.repo, lib, 1)),
      nochange: await run('nochange', t.backup(ctx, ctx.repo, lib, 2)),
      restore: await run('restore', t.restore(ctx, ctx.repo, target, 2)),
    };
    rmrf(target);
  }
  rmrf(dir); // the next size needs the room
  return row;
}

function print(rows, tools) {
  const cases = ['first', 'nochange', 'restore'];
  const head = ['library', 'files', 'MiB', ...tools.flatMap((t) => cases.map((c) => `${t} ${c}`))];
  const body = rows.map((r) => [r.kind, String(r.files), (r.bytes / MIB).toFixed(0), ...tools.flatMap((t) => cases.map((c) => r.rss[t][c].toFixed(0)))]);
  console.log('peak RSS (MiB) by library size\n');
  console.log(`| ${head.join(' | ')} |\n| ${head.map(() => '---:').join(' | ')} |`);
  for (const b of body) console.log(`| ${b.join(' | ')} |`);
  // Growth between the smallest and the largest library of each kind.
  console.log('\ngrowth, smallest to largest library of each kind:');
  for (const kind of ['files', 'bytes']) {
    const k = rows.filter((r) => r.kind === kind);
    if (k.length < 2) continue;
    const [a, b] = [k[0], k[k.length - 1]];
    const per = kind === 'files' ? (b.files - a.files) / 10_000 : (b.bytes - a.bytes) / (1024 * MIB);
    const unit = kind === 'files' ? 'per 10,000 files' : 'per GiB';
    for (const t of tools) {
      const g = cases.map((c) => `${c} ${((b.rss[t][c] - a.rss[t][c]) / per).toFixed(1)}`).join(', ');
      console.log(`  ${t}, MiB ${unit}: ${g}`);
    }
  }
}

main().catch((err) => {
  log(`error: ${err.message}`);
  process.exit(1);
});
