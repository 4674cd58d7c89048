/**
 * Shared helpers of the end-to-end suite: temporary folders, the real CLI (and the real restic) as
 * child processes, generated photo libraries, and a hash of a file tree with metadata, so two trees
 * can be compared byte for byte, mode for mode and mtime for mtime.
 *
 * Every test file builds its own corpora and repositories under its own temp folder, so the runner
 * can run the files in parallel.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, readdirSync, lstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The project root: dist/cli/e2e/harness.js → ../../.. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const cliPath = path.join(root, 'bin/keepsake.js');
export const corpusScript = path.join(root, 'scripts/make-photo-corpus.mjs');
export const password = 'correct horse battery staple';

// ---------------------------------------------------------------------------------------------
// Temporary folders

const temps: string[] = [];
after(async () => {
  if (process.env.KEEPSAKE_E2E_KEEP) {
    process.stderr.write(`kept temp folders: ${temps.join(' ')}\n`);
    return;
  }
  for (const t of temps) await fs.rm(t, { recursive: true, force: true });
});

/** A fresh folder, removed when the test file ends (set KEEPSAKE_E2E_KEEP=1 to keep it). */
export async function tempDir(label = 'e2e'): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), `keepsake-${label}-`));
  temps.push(d);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Running the CLI

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill (SIGKILL) after this many ms; the test fails on a hang instead of hanging the suite. */
  timeoutMs?: number;
  /** Run as another user (via setpriv), e.g. to make chmod 000 mean something when we are root. */
  asUser?: { uid: number; gid: number };
  /** At most this many open files (soft and hard limit, via prlimit), as on a system with a low limit. */
  maxOpenFiles?: number;
}

function cliEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KEEPSAKE_PASSWORD: password };
  // Not from the runner's environment; a test may still pass them in `extra`.
  delete env.KEEPSAKE_REPOSITORY;
  delete env.KEEPSAKE_PASSWORD_FILE;
  Object.assign(env, extra);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Start `keepsake ARGS` without waiting; for tests that signal it. */
export function spawnCli(args: string[], opts: RunOptions = {}): ChildProcess {
  let cmd = process.execPath;
  let argv = [cliPath, ...args];
  if (opts.asUser) {
    argv = [`--reuid=${opts.asUser.uid}`, `--regid=${opts.asUser.gid}`, '--clear-groups', cmd, ...argv];
    cmd = 'setpriv';
  }
  if (opts.maxOpenFiles !== undefined) {
    argv = [`--nofile=${opts.maxOpenFiles}:${opts.maxOpenFiles}`, cmd, ...argv];
    cmd = 'prlimit';
  }
  return spawn(cmd, argv, { env: cliEnv(opts.env), cwd: opts.cwd ?? root, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess, timeoutMs = 120_000): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Run `keepsake ARGS` to completion, capturing output; the password is in the environment. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return collect(spawnCli(args, opts), opts.timeoutMs);
}

/** Run the CLI and fail the test, showing its output, unless it exits with `want`. */
export async function cli(args: string[], want = 0, opts: RunOptions = {}): Promise<RunResult> {
  const r = await runCli(args, opts);
  if (r.code !== want) {
    throw new Error(`keepsake ${args.join(' ')}: exit ${r.code ?? r.signal}, wanted ${want}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r;
}

/** The JSON lines of a `--json` run. */
export function jsonLines(stdout: string): unknown[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
}

/** The last JSON line of a `--json` run (the summary), as a plain record. */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = jsonLines(stdout);
  const last = lines[lines.length - 1];
  if (typeof last !== 'object' || last === null) throw new Error(`no JSON object in output:\n${stdout}`);
  return last as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// restic

let resticChecked: boolean | undefined;

export function hasRestic(): boolean {
  resticChecked ??= spawnSync('restic', ['version'], { stdio: 'ignore' }).status === 0;
  return resticChecked;
}

/**
 * The one rule for tests that need the real restic: skip with a loud warning when it is missing,
 * except under CI=true, where a missing restic fails the test (CI must prove interoperability).
 * Returns false when the caller should return at once.
 */
export function needRestic(t: TestContext): boolean {
  if (hasRestic()) return true;
  if (process.env.CI === 'true') throw new Error('restic is not on PATH, and CI=true: interoperability tests must run in CI');
  process.stderr.write(`\n${'!'.repeat(78)}\n!!! WARNING: restic is not on PATH: skipping "${t.name}"\n${'!'.repeat(78)}\n\n`);
  t.skip('restic is not installed');
  return false;
}

/** Run `restic ARGS` (no cache, password from the environment). */
export function runRestic(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, RESTIC_PASSWORD: password, ...opts.env };
  delete env.RESTIC_REPOSITORY;
  delete env.RESTIC_PASSWORD_FILE;
  const child = spawn('restic', ['--no-cache', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(child, opts.timeoutMs ?? 120_000);
}

export async function restic(args: string[], want = 0, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const r = await runRestic(args, opts);
  if (r.code !== want) {
    throw new Error(`restic ${args.join(' ')}: exit ${r.code ?? r.signal}, wanted ${want}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Photo libraries

export interface CorpusOptions {
  photos?: number;
  videos?: number;
  meanMb?: number;
  seed?: number;
}

/** Generate a photo library with scripts/make-photo-corpus.mjs; returns its summary. */
export function makeCorpus(out: string, o: CorpusOptions = {}): { files: number; totalBytes: number } {
  const stdout = execFileSync(process.execPath, [
    corpusScript, 'create', '--out', out,
    '--photos', String(o.photos ?? 40), '--videos', String(o.videos ?? 2),
    '--mean-mb', String(o.meanMb ?? 0.7), '--seed', String(o.seed ?? 1),
  ], { encoding: 'utf8' });
  return JSON.parse(stdout) as { files: number; totalBytes: number };
}

export function mutateCorpus(dir: string, seed = 2): void {
  execFileSync(process.execPath, [corpusScript, 'mutate', '--dir', dir, '--seed', String(seed)], { encoding: 'utf8' });
}

/** Set a file's times with nanoseconds (Node's utimes cannot), via touch(1). */
export function touchNs(file: string, isoWithNanos: string): void {
  execFileSync('touch', ['-h', '-d', isoWithNanos, file]);
}

/** A few hand-made files with nanosecond mtimes, a symlink, a compressible text file, an empty file. */
export async function addHandMadeFiles(dir: string): Promise<void> {
  const d = path.join(dir, 'hand made');
  await fs.mkdir(d, { recursive: true });
  await fs.writeFile(path.join(d, 'notes.txt'), 'the same line of text, many times over\n'.repeat(50_000));
  await fs.writeFile(path.join(d, 'empty'), '');
  await fs.writeFile(path.join(d, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o750 });
  await fs.writeFile(path.join(d, 'private.key'), 'secret\n', { mode: 0o600 });
  await fs.symlink('notes.txt', path.join(d, 'link-to-notes'));
  touchNs(path.join(d, 'notes.txt'), '2021-02-03 04:05:06.123456789Z');
  touchNs(path.join(d, 'empty'), '2001-09-09 01:46:40.000000001Z');
  touchNs(path.join(d, 'script.sh'), '2024-12-31 23:59:59.999999999Z');
  touchNs(path.join(d, 'private.key'), '1999-12-31 12:00:00.5Z');
  touchNs(path.join(d, 'link-to-notes'), '2022-07-08 09:10:11.987654321Z');
  touchNs(d, '2020-05-05 05:05:05.050505050Z');
}

// ---------------------------------------------------------------------------------------------
// Comparing trees

export interface Entry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits (mode & 0o7777). */
  perm: number;
  mtimeNs: bigint;
  size: number;
  sha256?: string;
  linktarget?: string;
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every entry below `dir` (not `dir` itself), by relative path, with content hashes and metadata. */
export async function hashTree(dir: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const p = path.join(dir, r);
      const st = lstatSync(p, { bigint: true });
      const e: Entry = { type: 'other', perm: Number(st.mode & 0o7777n), mtimeNs: st.mtimeNs, size: Number(st.size) };
      if (st.isFile()) {
        e.type = 'file';
        e.sha256 = await sha256(p);
      } else if (st.isSymbolicLink()) {
        e.type = 'symlink';
        e.linktarget = await fs.readlink(p);
        e.perm = 0; // symlink permissions mean nothing on Linux
        e.size = 0;
      } else if (st.isDirectory()) {
        e.type = 'dir';
        e.size = 0;
      }
      out.set(r, e);
      if (e.type === 'dir') await walk(r);
    }
  };
  await walk('');
  return out;
}

export interface CompareOptions {
  /** Largest allowed mtime difference in ns: 0 for exact, 999 for "equal to the microsecond". */
  mtimeToleranceNs: number;
  /** Compare permission bits too. */
  modes?: boolean;
  /** Compare folder mtimes too (a restore into an existing folder changes the folder). */
  dirMtimes?: boolean;
}

/** Differences between two hashed trees, one line each; empty when they are identical. */
export function diffTrees(want: Map<string, Entry>, got: Map<string, Entry>, o: CompareOptions): string[] {
  const out: string[] = [];
  for (const [p, a] of want) {
    const b = got.get(p);
    if (!b) {
      out.push(`missing: ${JSON.stringify(p)}`);
      continue;
    }
    if (a.type !== b.type) out.push(`${JSON.stringify(p)}: type ${a.type} ≠ ${b.type}`);
    if (a.sha256 !== b.sha256) out.push(`${JSON.stringify(p)}: content differs`);
    if (a.size !== b.size) out.push(`${JSON.stringify(p)}: size ${a.size} ≠ ${b.size}`);
    if (a.linktarget !== b.linktarget) out.push(`${JSON.stringify(p)}: link ${a.linktarget} ≠ ${b.linktarget}`);
    if (o.modes && a.perm !== b.perm) out.push(`${JSON.stringify(p)}: mode ${a.perm.toString(8)} ≠ ${b.perm.toString(8)}`);
    const dt = a.mtimeNs > b.mtimeNs ? a.mtimeNs - b.mtimeNs : b.mtimeNs - a.mtimeNs;
    if ((a.type !== 'dir' || o.dirMtimes) && dt > BigInt(o.mtimeToleranceNs)) {
      out.push(`${JSON.stringify(p)}: mtime ${a.mtimeNs} ≠ ${b.mtimeNs} (${dt} ns apart)`);
    }
  }
  for (const p of got.keys()) if (!want.has(p)) out.push(`unexpected: ${JSON.stringify(p)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Repositories on disk

const isId = (name: string) => /^[0-9a-f]{64}$/.test(name);

/** The pack files of a local repository (full paths), excluding temporary files. */
export function packFiles(repo: string): string[] {
  const data = path.join(repo, 'data');
  const out: string[] = [];
  for (const sub of readdirSync(data)) {
    for (const f of readdirSync(path.join(data, sub))) if (isId(f)) out.push(path.join(data, sub, f));
  }
  return out.sort();
}

/** Bytes stored in a local repository's complete files (packs, indexes, snapshots, keys). */
export function repoBytes(repo: string, only?: 'data'): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (isId(e.name) || e.name === 'config') n += lstatSync(p).size;
    }
  };
  walk(only ? path.join(repo, only) : repo);
  return n;
}

/** Count of regular files below a folder. */
export async function countFiles(dir: string): Promise<number> {
  return [...(await hashTree(dir)).values()].filter((e) => e.type === 'file').length;
}

export { prng } from '../../util/prng.js';
