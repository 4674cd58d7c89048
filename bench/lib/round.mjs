// One benchmark round: fresh repositories for every tool, then the cases in order, each case running
// all tools back to back (so they see the same library and the same warm page cache).
import fs from 'node:fs';
import path from 'node:path';
import { MIB } from './config.mjs';
import { runTimed, syncDisks, CommandError } from './exec.mjs';
import { duBytes, rmrf, treeHash, mutateCorpus, warmMemory } from './fsutil.mjs';
import { TOOLS } from './tools.mjs';

// Tool order rotates every round so no tool always goes first (first run after generation, etc.).
export const rotate = (tools, n) => tools.map((_, i) => tools[(i + n) % tools.length]);

class Round {
  constructor(bench, index) {
    this.bench = bench;
    this.index = index;
    this.dir = path.join(bench.tmpRoot, `round-${index + 1}`);
    this.order = rotate(bench.tools, index);
    this.results = Object.fromEntries(bench.tools.map((t) => [t, { metrics: {}, errors: {}, summaries: {} }]));
  }

  ctx(tool, suite) {
    const toolTmp = path.join(this.dir, tool, suite);
    return { projectRoot: this.bench.config.projectRoot, toolTmp, repo: path.join(toolTmp, 'repo') };
  }

  /** Runs one command of `tool`; returns its timing or null after recording the failure under `name`. */
  async exec(tool, ctx, spec, name) {
    const t = TOOLS[tool];
    const env = { ...process.env, XDG_CACHE_HOME: path.join(ctx.toolTmp, 'xdg-cache'), ...t.env(ctx) };
    const logFile = path.join(this.dir, 'logs', `${tool}-${name}.log`);
    syncDisks();
    try {
      return await runTimed({
        cmd: spec.cmd, cwd: spec.cwd ?? this.bench.tmpRoot, env, logFile,
        timeoutSec: this.bench.config.timeoutSec, useGnuTime: this.bench.useGnuTime,
      });
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      this.fail(tool, name, err.message, err.logTail, err.logFile);
      return null;
    }
  }

  fail(tool, name, message, logTail = '', logFile = '') {
    this.results[tool].errors[name] = { message, logTail, logFile };
    this.bench.log(`  ${tool} ${name}: FAILED ${message}${logTail ? `\n${indent(logTail)}` : ''}`);
  }

  // A case runs for a tool only if everything it builds on succeeded for that tool.
  blocked(tool, needs) {
    return needs.some((n) => this.results[tool].errors[n]);
  }

  // Every command of a restic-format tool starts by deriving the key with the key file's scrypt
  // parameters; part of each timing, so the report says what each tool chose at init.
  keepKdf(tool, repo) {
    const dir = path.join(repo, 'keys');
    if (!fs.existsSync(dir)) return; // borg keeps its key elsewhere
    try {
      const { N, r, p } = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'utf8'));
      this.results[tool].kdf = { N, r, p };
    } catch { /* not a restic key file: nothing to report */ }
  }

  record(tool, values) {
    Object.assign(this.results[tool].metrics, values);
  }

  // restic (and keepsake, when it follows restic) end `backup --json` with a summary line; keeping it
  // in the results shows e.g. that a no-change backup really found its parent (files_unmodified).
  keepSummary(tool, name, logFile) {
    const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('"message_type":"summary"'));
    if (!lines.length) return;
    try {
      this.results[tool].summaries[name] = JSON.parse(lines.pop());
    } catch { /* not JSON after all: nothing to keep */ }
  }
}

const indent = (s) => s.split('\n').map((l) => `    | ${l}`).join('\n');

/** The photo-library cases: init, first backup, no-change, mutate, restore, check, per tool. */
async function libraryCases(round, lib) {
  const { cases, projectRoot, scale } = round.bench.config;
  const want = (c) => cases.includes(c);
  const state = {};
  for (const tool of round.order) {
    const ctx = round.ctx(tool, 'library');
    fs.mkdirSync(ctx.toolTmp, { recursive: true });
    state[tool] = { ctx, backups: 0 };
    if (await round.exec(tool, ctx, TOOLS[tool].init(ctx, ctx.repo), 'init')) round.keepKdf(tool, ctx.repo);
  }
  const backup = async (tool, name) => {
    const { ctx } = state[tool];
    const n = ++state[tool].backups;
    const r = await round.exec(tool, ctx, TOOLS[tool].backup(ctx, ctx.repo, lib.dir, n), name);
    if (r) round.keepSummary(tool, name, r.logFile);
    return r;
  };

  await forEachTool(round, ['init'], 'first', async (tool) => {
    const r = await backup(tool, 'first');
    if (r) round.record(tool, { first_s: r.seconds, first_mibps: lib.bytes / MIB / r.seconds,
      first_rss: r.rssKiB, repo_first: duBytes(state[tool].ctx.repo) });
  });
  if (want('nochange')) {
    await forEachTool(round, ['first'], 'nochange', async (tool) => {
      const r = await backup(tool, 'nochange');
      if (r) round.record(tool, { nochange_s: r.seconds, nochange_rss: r.rssKiB });
    });
  }
  if (want('mutate')) {
    round.bench.log(`  mutating the library: ${JSON.stringify(mutateCorpus(projectRoot, lib.dir, scale.mutate))}`);
    Object.assign(lib, treeHash(lib.dir), { mutated: true }); // new reference for restores, re-warms the cache
    await forEachTool(round, ['first'], 'mutate', async (tool) => {
      const before = duBytes(state[tool].ctx.repo);
      const r = await backup(tool, 'mutate');
      if (!r) return;
      const after = duBytes(state[tool].ctx.repo);
      round.record(tool, { mutate_s: r.seconds, mutate_rss: r.rssKiB, mutate_added: after - before, repo_mutate: after });
    });
  }
  if (want('restore')) {
    await forEachTool(round, ['first', 'mutate'], 'restore', (tool) => restoreCase(round, state[tool].ctx, state[tool].backups, tool, lib, 'restore'));
  }
  if (want('check')) {
    await forEachTool(round, ['first'], 'check', async (tool) => {
      const { ctx } = state[tool];
      const r = await round.exec(tool, ctx, TOOLS[tool].check(ctx, ctx.repo), 'check');
      if (r) round.record(tool, { check_s: r.seconds, check_mibps: lib.bytes / MIB / r.seconds, check_rss: r.rssKiB });
    });
  }
}

/** Restore the latest of `backups` backups of `lib` into an empty folder; verified, untimed, after. */
async function restoreCase(round, ctx, backups, tool, lib, step) {
  const target = path.join(ctx.toolTmp, step);
  rmrf(target);
  fs.mkdirSync(target, { recursive: true });
  if (round.bench.config.warm && !warmMemory(target, lib.bytes)) round.bench.log(`  ${step}: not enough room to warm the memory first`);
  const r = await round.exec(tool, ctx, TOOLS[tool].restore(ctx, ctx.repo, target, backups), step);
  if (!r) return;
  // Verified outside the timed part; fall back to the target itself if a tool restores relative paths.
  let root = TOOLS[tool].restoredRoot(target, lib.dir);
  if (!fs.existsSync(root)) root = target;
  const got = treeHash(root);
  if (got.hash !== lib.hash) { // a wrong restore has no speed worth reporting
    round.fail(tool, step, `restored tree differs from the source (${got.files} files/${got.bytes} bytes, ` +
      `expected ${lib.files}/${lib.bytes}); BENCH_KEEP=1 keeps ${root}`);
    return;
  }
  const key = step.replace('-', '_');
  round.record(tool, { [`${key}_s`]: r.seconds, [`${key}_mibps`]: lib.bytes / MIB / r.seconds, [`${key}_rss`]: r.rssKiB });
  rmrf(target);
}

/** The ~58k small files: first backup, a no-change backup and a restore, in a repository of their own. */
async function filesCases(round, files) {
  const ctxs = {};
  for (const tool of round.order) {
    ctxs[tool] = round.ctx(tool, 'files');
    fs.mkdirSync(ctxs[tool].toolTmp, { recursive: true });
    await round.exec(tool, ctxs[tool], TOOLS[tool].init(ctxs[tool], ctxs[tool].repo), 'files-init');
  }
  for (const [name, n] of [['files-first', 1], ['files-nochange', 2]]) {
    const needs = n === 1 ? ['files-init'] : ['files-init', 'files-first'];
    await forEachTool(round, needs, name, async (tool) => {
      const ctx = ctxs[tool];
      const r = await round.exec(tool, ctx, TOOLS[tool].backup(ctx, ctx.repo, files.dir, n), name);
      if (r) round.keepSummary(tool, name, r.logFile);
      const key = name.replace('-', '_');
      if (r) round.record(tool, { [`${key}_s`]: r.seconds, [`${key}_rss`]: r.rssKiB });
    });
  }
  // A restore of every file: where per-file costs show (a restore of 58,000 photos once failed on the
  // limit of open files, which the 473-file library never reached).
  await forEachTool(round, ['files-init', 'files-first', 'files-nochange'], 'files-restore', (tool) => restoreCase(round, ctxs[tool], 2, tool, files, 'files-restore'));
}

async function forEachTool(round, needs, name, fn) {
  round.bench.log(` round ${round.index + 1}: ${name}`);
  for (const tool of round.order) {
    if (round.blocked(tool, needs)) round.fail(tool, name, `skipped: ${needs.filter((n) => round.results[tool].errors[n]).join(', ')} failed`);
    else await fn(tool);
  }
}

/** Runs round `index`; `lib` and `files` are the prepared corpora ({ dir, hash, bytes, files }). */
export async function runRound(bench, index, lib, files) {
  const round = new Round(bench, index);
  bench.log(`round ${index + 1}/${bench.config.rounds}: order ${round.order.join(', ')}`);
  const libraryWanted = ['first', 'nochange', 'mutate', 'restore', 'check'].some((c) => bench.config.cases.includes(c));
  if (libraryWanted) await libraryCases(round, lib);
  if (bench.config.cases.includes('files')) await filesCases(round, files);
  if (!bench.config.keep) rmrf(round.dir);
  return { round: index + 1, order: round.order, results: round.results };
}
