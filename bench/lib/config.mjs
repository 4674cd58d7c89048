// Benchmark configuration: scales, environment knobs and command-line flags.
import os from 'node:os';
import path from 'node:path';

export const MIB = 1024 * 1024;

// `default` is the size the targets talk about; `small` is a smoke run of a couple of minutes.
export const SCALES = {
  default: {
    rounds: 3,
    library: { photos: 400, videos: 8, meanMb: 4, seed: 1 },
    mutate: { seed: 2, add: 40, edit: 20, move: 20, delete: 10 },
    files: { photos: 50000, videos: 8, meanMb: 0.02, seed: 3 }, // ~58,000 files
  },
  small: {
    rounds: 1,
    library: { photos: 120, videos: 2, meanMb: 2, seed: 1 }, // ~300 MiB
    mutate: { seed: 2, add: 10, edit: 8, move: 8, delete: 4 },
    files: { photos: 2600, videos: 2, meanMb: 0.02, seed: 3 }, // ~3,000 files
  },
};

export const ALL_TOOLS = ['keepsake', 'restic', 'borg'];
// Order matters: later cases build on the repositories the earlier ones wrote.
export const ALL_CASES = ['first', 'nochange', 'mutate', 'restore', 'check', 'files'];

const HELP = `usage: node bench/run.mjs [--markdown] [--from RESULTS.json]

  --markdown         also print a Markdown table (for BENCHMARKS.md)
  --from FILE        do not run anything: print the tables of an earlier results file

environment:
  BENCH_SCALE=small|default   corpus size (default: default, ~2 GiB + 58k small files)
  BENCH_ROUNDS=N              rounds; medians are reported (default 3, small: 1; the default
                              is raised to a multiple of the number of tools, 4 for two)
  BENCH_ONLY=keepsake,restic  tools to run (default: all; borg only when on PATH)
  BENCH_CASES=first,nochange,mutate,restore,check,files   cases to report
  BENCH_TMP=DIR               parent of the temp folder (default: the OS temp dir)
  BENCH_KEEP=1                keep the temp folder (libraries, repositories, logs)
  BENCH_WARM=0                restore without first writing and deleting as much data as it
                              restores (default: warm, see BENCHMARKS.md)
  BENCH_TIMEOUT=SECONDS       per-command time limit (default 3600)
  BENCH_KEEPSAKE_BIN=FILE     keepsake entry point to run (default: bin/keepsake)
`;

function list(value, allowed, what) {
  if (!value) return [...allowed];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((s) => !allowed.includes(s));
  if (bad.length) throw new Error(`unknown ${what}: ${bad.join(', ')} (known: ${allowed.join(', ')})`);
  // Keep the canonical order so dependent cases run after their prerequisites.
  return allowed.filter((s) => items.includes(s));
}

function parseArgs(argv) {
  const flags = { markdown: false, from: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--markdown') flags.markdown = true;
    else if (argv[i] === '--from' && argv[i + 1]) flags.from = argv[++i];
    else if (argv[i] === '--help' || argv[i] === '-h') { process.stdout.write(HELP); process.exit(0); }
    else throw new Error(`unknown argument ${argv[i]}\n${HELP}`);
  }
  return flags;
}

export function loadConfig(argv = process.argv.slice(2), env = process.env) {
  const flags = parseArgs(argv);
  const scaleName = env.BENCH_SCALE || 'default';
  const scale = SCALES[scaleName];
  if (!scale) throw new Error(`BENCH_SCALE must be one of ${Object.keys(SCALES).join(', ')}`);
  const rounds = env.BENCH_ROUNDS ? Number(env.BENCH_ROUNDS) : scale.rounds;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('BENCH_ROUNDS must be a positive integer');
  return {
    ...flags,
    scaleName,
    scale,
    rounds,
    roundsChosen: Boolean(env.BENCH_ROUNDS),
    tools: list(env.BENCH_ONLY, ALL_TOOLS, 'tool in BENCH_ONLY'),
    cases: list(env.BENCH_CASES, ALL_CASES, 'case in BENCH_CASES'),
    keep: env.BENCH_KEEP === '1',
    warm: env.BENCH_WARM !== '0',
    tmpParent: path.resolve(env.BENCH_TMP || os.tmpdir()),
    timeoutSec: Number(env.BENCH_TIMEOUT || 3600),
    projectRoot: path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..'),
  };
}

// Rough size of a generated library, for the free-space check before anything is written.
export function estimateBytes({ photos, videos, meanMb }) {
  const photoBytes = photos * meanMb * MIB * 1.1; // + XMP sidecars, 5% duplicates, EXIF headers
  const fileOverhead = photos * 1.2 * 4096; // small files still take a block each on disk
  return photoBytes + videos * meanMb * 8 * MIB + fileOverhead;
}
