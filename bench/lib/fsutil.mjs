// File-system helpers: corpus generation, sizes, content hashes of trees, free space.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runQuiet } from './exec.mjs';

/** Bytes a directory takes on disk (`du -sb`: apparent sizes, as the issue asks for). */
export function duBytes(dir) {
  return Number(runQuiet('du', ['-sb', dir]).split('\t')[0]);
}

export function freeBytes(dir) {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Write `bytes` of scratch data into a file in `dir`, then remove it: the memory a restore is about
 * to fill has then just been used. On a virtual machine, memory the guest freed a while ago goes back
 * to the host, and the next program to write that much pays for it again (here: writing 1.9 GiB into
 * fresh tmpfs files took 3.5 s of kernel time, right after deleting them 0.8 s). Without this, the
 * tool that restores first in a round pays it and the next one does not, whichever tool that is.
 * Skipped (returns false) when the file system has not twice that room.
 */
export function warmMemory(dir, bytes) {
  if (freeBytes(dir) < 2 * bytes) return false;
  const file = path.join(dir, `.warm-${process.pid}`);
  const block = Buffer.alloc(8 * 1024 * 1024, 0x5a);
  const fd = fs.openSync(file, 'w');
  try {
    for (let done = 0; done < bytes; done += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, bytes - done));
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return true;
}

export function rmrf(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

function corpusScript(projectRoot) {
  return path.join(projectRoot, 'scripts', 'make-photo-corpus.mjs');
}

/** Generates a library with the vendored generator; returns its JSON summary ({ files, totalBytes }). */
export function createCorpus(projectRoot, out, { photos, videos, meanMb, seed }) {
  const args = ['create', '--out', out, '--photos', photos, '--videos', videos, '--mean-mb', meanMb, '--seed', seed];
  return JSON.parse(runQuiet(process.execPath, [corpusScript(projectRoot), ...args.map(String)]));
}

export function mutateCorpus(projectRoot, dir, { seed, add, edit, move, delete: del }) {
  const args = ['mutate', '--dir', dir, '--seed', seed, '--add', add, '--edit', edit, '--move', move, '--delete', del];
  return JSON.parse(runQuiet(process.execPath, [corpusScript(projectRoot), ...args.map(String)]));
}

/**
 * One hash over every regular file's relative path, size and SHA-256, plus empty directories.
 * Reading everything also warms the page cache before the timed runs. Returns { hash, files, bytes }.
 */
export function treeHash(root) {
  const all = crypto.createHash('sha256');
  let files = 0, bytes = 0;
  for (const rel of walk(root, '')) {
    const full = path.join(root, rel);
    const st = fs.lstatSync(full);
    if (st.isDirectory()) { all.update(`dir ${rel}\n`); continue; }
    if (!st.isFile()) { all.update(`other ${rel}\n`); continue; }
    const digest = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex');
    all.update(`file ${rel} ${st.size} ${digest}\n`);
    files++;
    bytes += st.size;
  }
  return { hash: all.digest('hex'), files, bytes };
}

// Sorted depth-first walk yielding files and only empty directories (a non-empty one is implied
// by its files, and tools differ in whether they restore directory entries eagerly).
function* walk(root, rel) {
  const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!entries.length && rel) yield rel;
  for (const e of entries) {
    const child = rel ? path.join(rel, e.name) : e.name;
    if (e.isDirectory()) yield* walk(root, child);
    else yield child;
  }
}
