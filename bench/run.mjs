#!/usr/bin/env node
// keepsake vs restic vs borg on the same generated photo library, in the same run. See BENCHMARKS.md.
//
//   npm run bench                     full size (~2 GiB library + ~58k small files, 3 rounds)
//   BENCH_SCALE=small npm run bench   a couple of minutes
//   node bench/run.mjs --help         all knobs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, estimateBytes, MIB } from './lib/config.mjs';
import { haveGnuTime, killRunning, runQuiet } from './lib/exec.mjs';
import { createCorpus, freeBytes, rmrf, treeHash } from './lib/fsutil.mjs';
import { renderAll, summarize } from './lib/report.mjs';
import { runRound } from './lib/round.mjs';
import { TOOLS, pickTools } from './lib/tools.mjs';

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const GIB = 1024 * MIB;

function machine(config) {
  const df = runQuiet('df', ['-T', '-h', config.tmpParent]).trim().split('\n').pop().split(/\s+/);
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / GIB),
    kernel: os.release(),
    node: process.version,
    disk: { device: df[0], fsType: df[1], size: df[2], available: df[4], tmpParent: config.tmpParent },
  };
}

// Repositories live next to the library, so the need is the corpora plus one repository per tool
// and a restore target, never less than the 3x the brief asks for.
function checkFreeSpace(config, tools) {
  const lib = libraryWanted(config) ? estimateBytes(config.scale.library) : 0;
  const files = config.cases.includes('files') ? estimateBytes(config.scale.files) : 0;
  const need = Math.max(3 * (lib + files), lib * (tools.length + 2) + files * (tools.length + 1));
  const free = freeBytes(config.tmpParent);
  if (free < need) {
    throw new Error(`not enough free space in ${config.tmpParent}: ${(free / GIB).toFixed(1)} GiB free, ` +
      `need ~${(need / GIB).toFixed(1)} GiB for the corpora and repositories (set BENCH_TMP elsewhere)`);
  }
}

const libraryWanted = (config) => ['first', 'nochange', 'mutate', 'restore', 'check'].some((c) => config.cases.includes(c));

// A keepsake built from older sources would benchmark the wrong code; say so instead of guessing.
function warnIfStaleBuild(config, tools) {
  if (!tools.includes('keepsake')) return;
  const newest = (dir) => (fs.existsSync(dir)
    ? Math.max(0, ...fs.readdirSync(dir, { recursive: true }).map((f) => fs.statSync(path.join(dir, f)).mtimeMs))
    : 0);
  const src = newest(path.join(config.projectRoot, 'src'));
  const dist = newest(path.join(config.projectRoot, 'dist'));
  if (src > dist) log('warning: src/ is newer than dist/ -- run `npm run build` first to benchmark current code');
}

function makeCorpus(config, dir, spec, what) {
  const t0 = Date.now();
  rmrf(dir);
  const made = createCorpus(config.projectRoot, dir, spec);
  const tree = treeHash(dir); // also warms the page cache for the first timed backup
  log(`${what}: ${made.files} files, ${(made.totalBytes / MIB).toFixed(0)} MiB in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  return { dir, ...tree, mutated: false };
}

async function runAll(config, tools, tmpRoot) {
  const bench = { config, tools, tmpRoot, log, useGnuTime: haveGnuTime() };
  if (!bench.useGnuTime) log('warning: GNU time not found (run bench/setup.sh); peak RSS will not be reported');
  const files = config.cases.includes('files')
    ? makeCorpus(config, path.join(tmpRoot, 'small-files'), config.scale.files, 'small-files corpus') : null;
  let lib = null;
  const rounds = [];
  const sizes = files ? { files: { files: files.files, bytes: files.bytes } } : {};
  for (let i = 0; i < config.rounds; i++) {
    // Every round starts from the identical, unmutated library (the generator is deterministic).
    if (libraryWanted(config) && (!lib || lib.mutated)) {
      lib = makeCorpus(config, path.join(tmpRoot, 'library'), config.scale.library, 'library');
      sizes.library = { files: lib.files, bytes: lib.bytes };
    }
    rounds.push(await runRound(bench, i, lib, files));
  }
  return { rounds, sizes, useGnuTime: bench.useGnuTime };
}

// Generator arguments plus the measured size of what they produced (before any mutate).
function corpusInfo(config, sizes) {
  const info = {};
  if (sizes.library) info.library = { ...config.scale.library, mutate: config.scale.mutate, ...sizes.library };
  if (sizes.files) info.files = { ...config.scale.files, ...sizes.files };
  return info;
}

async function main() {
  const config = loadConfig();
  if (config.from) {
    process.stdout.write(`${renderAll(JSON.parse(fs.readFileSync(config.from, 'utf8')), config)}\n`);
    return;
  }
  const tools = pickTools(config.tools, log);
  if (!tools.length) throw new Error('no tool to benchmark');
  // The order of the tools rotates every round, and the first of a case can be the slower (restores
  // on a 2-core VM: ~300 MiB/s first, ~420 second, whichever tool it was). Unless the rounds were
  // asked for, every tool goes first equally often: three tools in 3 rounds, two in 4.
  if (!config.roundsChosen && config.rounds > 1 && config.rounds % tools.length !== 0) {
    config.rounds += tools.length - (config.rounds % tools.length);
  }
  checkFreeSpace(config, tools);
  warnIfStaleBuild(config, tools);
  const tmpRoot = fs.mkdtempSync(path.join(config.tmpParent, 'keepsake-bench-'));
  log(`scale ${config.scaleName}, ${config.rounds} round(s), tools ${tools.join(', ')}, cases ${config.cases.join(', ')}${config.warm ? '' : ', restores not warmed'}; temp ${tmpRoot}`);
  const started = new Date();
  const loadBefore = os.loadavg(); // other work on the machine skews every number: keep a record of it
  // Ctrl-C: stop the tool under way and remove the temp folder, as a normal end would.
  process.once('SIGINT', () => {
    killRunning();
    if (!config.keep) rmrf(tmpRoot);
    log(config.keep ? `interrupted; kept ${tmpRoot}` : 'interrupted');
    process.exit(130);
  });
  let run;
  try {
    run = await runAll(config, tools, tmpRoot);
  } finally {
    if (config.keep) log(`kept ${tmpRoot}`);
    else rmrf(tmpRoot);
  }
  const results = {
    date: started.toISOString(), durationSec: Math.round((Date.now() - started) / 1000),
    scale: config.scaleName, tools, cases: config.cases, restoresWarmed: config.warm,
    machine: { ...machine(config), loadavg: { before: loadBefore, after: os.loadavg() } },
    versions: Object.fromEntries(tools.map((t) => [t, TOOLS[t].version({ projectRoot: config.projectRoot })])),
    peakRss: run.useGnuTime ? 'GNU time %M (KiB), converted to MiB' : 'unavailable',
    corpora: corpusInfo(config, run.sizes), rounds: run.rounds, medians: summarize(run.rounds, tools),
  };
  const outDir = path.join(config.projectRoot, '.bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, `${results.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${renderAll(results, config)}\n\nresults: ${path.relative(config.projectRoot, outFile)}\n`);
}

main().catch((err) => {
  log(`error: ${err.message}`);
  process.exit(1);
});
