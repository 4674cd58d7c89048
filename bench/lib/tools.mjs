// The command lines of each tool under test. Every command gets the same cwd (the bench temp root)
// unless noted, and its own cache directory per round, so rounds do not share state.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const PASSWORD = 'bench-password-not-secret';

const onPath = (bin) => spawnSync('sh', ['-c', 'command -v "$0"', bin], { stdio: 'ignore' }).status === 0;

// borg: `repokey` authenticates with HMAC-SHA256, `repokey-blake2` with BLAKE2b. Borg's docs recommend
// the SHA-256 mode when the CPU has SHA extensions (sha_ni), blake2 otherwise; we follow that advice.
const borgEncryption = () => {
  const cpu = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return /\bsha_ni\b/.test(cpu) ? 'repokey' : 'repokey-blake2';
};

export const TOOLS = {
  // keepsake: run as users run it (`npx keepsake`, an installed `keepsake`): the file itself, through
  // its #! line.
  keepsake: {
    available: () => null, // always attempted: a missing or broken CLI shows up as FAIL in the table
    version: (ctx) => spawnSync(ks(ctx), ['--version'], { encoding: 'utf8' }).stdout?.trim() || 'unknown',
    env: (ctx) => ({ KEEPSAKE_PASSWORD: PASSWORD, KEEPSAKE_CACHE_DIR: path.join(ctx.toolTmp, 'cache') }),
    init: (ctx, repo) => ({ cmd: [ks(ctx), 'init', '--repo', repo] }),
    backup: (ctx, repo, dir) => ({ cmd: [ks(ctx), 'backup', '--repo', repo, '--json', dir] }),
    restore: (ctx, repo, target) => ({
      cmd: [ks(ctx), 'restore', 'latest', '--repo', repo, '--target', target],
    }),
    check: (ctx, repo) => ({ cmd: [ks(ctx), 'check', '--repo', repo, '--read-data'] }),
    restoredRoot: (target, dir) => path.join(target, dir), // like restic: the absolute path under target
  },

  // restic: default compression (auto = zstd on v2 repositories) and default pack size.
  restic: {
    available: () => (onPath('restic') ? null : 'restic not on PATH'),
    version: () => spawnSync('restic', ['version'], { encoding: 'utf8' }).stdout.trim(),
    env: (ctx) => ({ RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: path.join(ctx.toolTmp, 'cache') }),
    init: (ctx, repo) => ({ cmd: ['restic', 'init', '-r', repo, '--repository-version', '2'] }),
    // --host keeps parent-snapshot detection independent of the machine's hostname.
    backup: (ctx, repo, dir) => ({ cmd: ['restic', 'backup', '-r', repo, '--json', '--host', 'bench', dir] }),
    restore: (ctx, repo, target) => ({ cmd: ['restic', 'restore', 'latest', '-r', repo, '--target', target] }),
    check: (ctx, repo) => ({ cmd: ['restic', 'check', '-r', repo, '--read-data'] }),
    restoredRoot: (target, dir) => path.join(target, dir),
  },

  // borg 1.x: default chunker and default compression (lz4).
  borg: {
    available: () => (onPath('borg') ? null : 'borg not on PATH'),
    version: () => `${spawnSync('borg', ['--version'], { encoding: 'utf8' }).stdout.trim()} (${borgEncryption()})`,
    env: (ctx) => ({
      BORG_PASSPHRASE: PASSWORD,
      BORG_BASE_DIR: path.join(ctx.toolTmp, 'borg-home'), // cache, config, security dirs: per round
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
      BORG_DISPLAY_PASSPHRASE: 'no',
    }),
    init: (ctx, repo) => ({ cmd: ['borg', 'init', '-e', borgEncryption(), repo] }),
    // Borg has no "latest": archives are named b1, b2, ... in the order the harness creates them.
    backup: (ctx, repo, dir, n) => ({ cmd: ['borg', 'create', `${repo}::b${n}`, dir] }),
    restore: (ctx, repo, target, n) => ({ cmd: ['borg', 'extract', `${repo}::b${n}`], cwd: target }),
    check: (ctx, repo) => ({ cmd: ['borg', 'check', '--verify-data', repo] }),
    restoredRoot: (target, dir) => path.join(target, dir), // borg strips the leading slash
  },
};

// BENCH_KEEPSAKE_BIN points at another build (a second work tree, an older release) to compare.
function ks(ctx) {
  return process.env.BENCH_KEEPSAKE_BIN
    ? path.resolve(process.env.BENCH_KEEPSAKE_BIN)
    : path.join(ctx.projectRoot, 'bin', 'keepsake'); // the launcher users run (see there)
}

/** Tools to run: the requested ones, minus those not installed (reported, not fatal). */
export function pickTools(names, log) {
  return names.filter((name) => {
    const why = TOOLS[name].available();
    if (why) log(`skipping ${name}: ${why}`);
    return !why;
  });
}
