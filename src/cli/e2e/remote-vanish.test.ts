/**
 * A destination that vanishes in the middle of a backup. Each test starts a private server of its
 * own (so it can kill it without disturbing the shared ones of `scripts/peers`):
 *   - REST: `rclone serve restic` on a free port, with a user and password;
 *   - SFTP: an OpenSSH sshd on a free port, logging in as the peers' test user with its key.
 * It starts `keepsake backup --json` of a ~150 MiB library, kills the server (and every process it
 * started) once a quarter of the library has arrived, and checks:
 *   - the backup exits non-zero, within a bound set by the retry policy, with one `error:` line that
 *     names the destination (plus a hint), no stack trace, and no credential anywhere in its output;
 *   - after a restart on the same port and folder, restic checks the repository clean (SFTP: after
 *     `keepsake unlock`; REST: with the stale lock left in place for the next backup to recover);
 *   - the backup run again completes, picks up the packs that had arrived (it does not upload them
 *     again), and restic check --read-data passes.
 * The REST test also reads the process table while keepsake runs: the repository URL (with its
 * password) is given in KEEPSAKE_REPOSITORY, and neither it nor the repository password may show in
 * `ps -o args` of keepsake or any process below it.
 *
 * Timing: keepsake retries each failing call 8 times with backoff capped at 30 s (~31–62 s of waiting),
 * and a failed run goes through up to three such rounds in a row on the dead server (the packs in
 * flight, the index of what did arrive, the lock), so it gives up ~1.3–3 min after the kill (~80 s
 * measured). Both tests run side by side.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import { peerEnv, randomName } from '../../backend/peers.test-helper.js';
import {
  cli, collect, jsonLines, lastJson, makeCorpus, needRestic, password, restic, spawnCli, tempDir, type RunResult,
} from './harness.js';

const MiB = 1024 * 1024;
/**
 * Kill the server once this share of the library has arrived (about a second in, on a busy 2-core
 * machine). By progress rather than by the clock: an idle machine backs the whole library up in
 * ~1.5 s, and a kill after it finished would prove nothing.
 */
const killAtShare = 0.25;
/** Three retry rounds of at most ~62 s each, plus slack for a busy machine. */
const giveUpWithinMs = 200_000;

// ---------------------------------------------------------------------------------------------
// Helpers

/** The one rule for missing tools (as needRestic): a loud skip on a dev machine, a failure under CI. */
function needTool(t: TestContext, cmd: string, args: string[]): boolean {
  if (spawnSync(cmd, args, { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI === 'true') throw new Error(`${cmd} is not available, and CI=true`);
  process.stderr.write(`\n${'!'.repeat(78)}\n!!! WARNING: ${cmd} is not available: skipping "${t.name}"\n${'!'.repeat(78)}\n\n`);
  t.skip(`${cmd} is not available`);
  return false;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Every process below `pid` (children, grandchildren…), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // The field after the parenthesized command name: state, then ppid.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** The command line of a process as `ps -o args` shows it. */
function psArgs(pid: number): string {
  return spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
}

/** A server this test starts, kills and restarts on the same port. */
class PrivateServer {
  private child: ChildProcess | undefined;
  private log = '';

  constructor(readonly label: string, readonly port: number, private readonly cmd: string, private readonly args: string[], private readonly env: NodeJS.ProcessEnv = process.env) {}

  async start(): Promise<void> {
    const child = spawn(this.cmd, this.args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.log += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.log += d));
    this.child = child;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      if (await portAnswers(this.port)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.label} did not start on 127.0.0.1:${this.port}:\n${this.log}`);
  }

  /** SIGKILL the server and everything it started (sshd serves each connection in a child of its own). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    for (const pid of [child.pid, ...descendants(child.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
    this.child = undefined;
  }
}

/** Bytes and names of the complete pack files of a repository on this machine's disk. */
function packsOnDisk(repoDir: string): Map<string, number> {
  const out = new Map<string, number>();
  const data = path.join(repoDir, 'data');
  let subs: string[];
  try {
    subs = readdirSync(data);
  } catch {
    return out;
  }
  for (const sub of subs) {
    let names: string[];
    try {
      names = readdirSync(path.join(data, sub));
    } catch {
      continue;
    }
    for (const n of names) {
      if (!/^[0-9a-f]{64}$/.test(n)) continue; // temp files of the server
      try {
        out.set(n, statSync(path.join(data, sub, n)).size);
      } catch {
        // removed meanwhile
      }
    }
  }
  return out;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** The pack IDs the repository's indexes name, as restic reads them. */
async function indexedPacks(resticArgs: string[], env: NodeJS.ProcessEnv): Promise<Set<string>> {
  const out = new Set<string>();
  const ids = (await restic([...resticArgs, '--no-lock', 'list', 'index'], 0, { env })).stdout.trim().split('\n').filter(Boolean);
  for (const id of ids) {
    const idx = JSON.parse((await restic([...resticArgs, '--no-lock', 'cat', 'index', id], 0, { env })).stdout) as { packs: { id: string }[] };
    for (const p of idx.packs) out.add(p.id);
  }
  return out;
}

interface Scenario {
  server: PrivateServer;
  /** keepsake's --repo (omitted when the location travels in KEEPSAKE_REPOSITORY). */
  repoArgs: string[];
  /** The destination as keepsake names it in messages (password redacted). */
  shown: string;
  env: NodeJS.ProcessEnv;
  resticArgs: string[];
  resticEnv: NodeJS.ProcessEnv;
  /** The repository folder on this machine's disk, to watch what arrives. */
  repoDir: string;
  secrets: string[];
  /** After the restart: `keepsake unlock` first, or straight to the next backup (which recovers). */
  resume: 'unlock' | 'backup';
  /** Called while the first backup runs, with keepsake's PID. */
  whileRunning?: (pid: number) => void;
}

function assertNoSecrets(r: RunResult, secrets: string[], what: string): void {
  for (const s of [password, ...secrets]) {
    for (const form of new Set([s, encodeURIComponent(s)])) {
      assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form), `${what}: a credential appears in the output`);
    }
  }
}

async function vanishAndResume(t: TestContext, lib: string, libBytes: number, sc: Scenario): Promise<void> {
  await sc.server.start();
  try {
    await cli(['init', ...sc.repoArgs], 0, { env: sc.env });

    // 1. The backup, and the server killed under it.
    const started = Date.now();
    const child = spawnCli(['backup', '--json', ...sc.repoArgs, lib], { env: sc.env });
    const done = collect(child, giveUpWithinMs + 60_000);
    let exited = false;
    void done.then(() => (exited = true));
    // rclone serve restic writes a pack under its final name as it arrives: count a pack as arrived
    // once its size stopped changing between two looks.
    let arrivedAtKill = 0;
    let prev = new Map<string, number>();
    while (!exited) {
      const now = packsOnDisk(sc.repoDir);
      arrivedAtKill = sum(new Map([...now].filter(([id, size]) => prev.get(id) === size)));
      if (arrivedAtKill >= killAtShare * libBytes) break;
      prev = now;
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(!exited, `the backup finished before the server could be killed (${mib(arrivedAtKill)} had arrived): make the library larger`);
    sc.whileRunning?.(child.pid!);
    await sc.server.kill();
    const killedAt = Date.now();
    const r = await done;
    const failMs = Date.now() - killedAt;
    const arrived = packsOnDisk(sc.repoDir);
    t.diagnostic(`killed ${sc.server.label} after ${((killedAt - started) / 1000).toFixed(1)} s with ${mib(arrivedAtKill)} of ${mib(libBytes)} stored; keepsake gave up ${(failMs / 1000).toFixed(1)} s later; ${mib(sum(arrived))} in ${arrived.size} packs`);

    // 2. How it failed.
    assert.notEqual(r.code, 0, `the backup must fail; it exited ${r.code ?? r.signal}\n${r.stderr}`);
    assert.equal(r.signal, null, 'exited by itself, not killed by the harness');
    assert.ok(failMs < giveUpWithinMs, `gave up ${failMs} ms after the server went away`);
    assertNoSecrets(r, sc.secrets, 'failed backup');
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    const retries = lines.filter((l) => l.startsWith('retrying: '));
    const rest = lines.filter((l) => !l.startsWith('retrying: '));
    assert.ok(retries.length > 0, 'it retried before giving up');
    assert.ok(retries.every((l) => l.startsWith(`retrying: ${sc.shown}`)), 'every retry names the destination');
    assert.equal(rest.filter((l) => l.startsWith('error: ')).length, 1, `one error line:\n${rest.join('\n')}`);
    assert.ok(rest[0]!.startsWith(`error: ${sc.shown}`), `the error names the destination: ${rest[0]}`);
    assert.ok(rest.length <= 2, `the error line and at most a hint, no more:\n${rest.join('\n')}`);
    assert.ok(!/^\s+at |Error: |\.js:\d+/m.test(r.stderr), `no stack trace:\n${rest.join('\n')}`);
    const err = lastJson(r.stdout);
    assert.equal(err.message_type, 'error');
    assert.ok(String(err.message).startsWith(sc.shown), `--json error names the destination: ${String(err.message)}`);
    t.diagnostic(`error shown: ${rest.join(' / ')} (after ${retries.length} retry lines)`);

    // 3. The server comes back; restic finds the repository sound. The failed run could not remove
    // its lock: it stays as the mark of an interrupted run. restic's check takes an exclusive lock and
    // refuses next to any other lock, stale or not (as after an interrupted restic run), so either
    // `keepsake unlock` goes first (it indexes the packs that arrived, then removes the lock), or the
    // lock is left for the next backup to recover from and restic checks with --no-lock.
    await sc.server.start();
    if (sc.resume === 'unlock') {
      const u = await cli(['unlock', '--json', ...sc.repoArgs], 0, { env: sc.env });
      assertNoSecrets(u, sc.secrets, 'unlock');
      const j = lastJson(u.stdout);
      assert.ok((j.locks_removed as number) >= 1, `unlock removed the stale lock: ${u.stdout}`);
      assert.ok((j.packs_indexed as number) >= 1, `unlock indexed the packs that had arrived: ${u.stdout}`);
      t.diagnostic(`keepsake unlock: ${u.stdout.trim()}`);
    }
    if (needRestic(t)) {
      if (sc.resume === 'unlock') {
        const c = await restic([...sc.resticArgs, 'check'], 0, { env: sc.resticEnv });
        assert.match(c.stdout, /no errors were found/);
      } else {
        const plain = await restic([...sc.resticArgs, 'check'], undefined, { env: sc.resticEnv }).catch((e: Error) => e);
        if (plain instanceof Error) {
          assert.match(plain.message, /already locked/, 'restic check fails only because of the lock');
          t.diagnostic('restic check (exclusive lock) refuses next to the stale lock, as after an interrupted restic backup; checking with --no-lock');
        }
        const c = await restic([...sc.resticArgs, '--no-lock', 'check'], 0, { env: sc.resticEnv });
        assert.match(c.stdout, /no errors were found/);
      }
    }
    await cli(['check', ...sc.repoArgs], 0, { env: sc.env });

    // 4. The backup again: it completes and does not upload again what had arrived.
    const again = await cli(['backup', '--json', ...sc.repoArgs, lib], 0, { env: sc.env, timeoutMs: 180_000 });
    assertNoSecrets(again, sc.secrets, 'second backup');
    const s = lastJson(again.stdout);
    const uploaded = s.uploaded_bytes as number;
    // After unlock there is no mark left: the packs are in the index already.
    assert.equal(s.recovered_interrupted_run, sc.resume === 'backup', 'recovered_interrupted_run');
    if (needRestic(t)) {
      const indexed = await indexedPacks(sc.resticArgs, sc.resticEnv);
      const reused = sum(new Map([...arrived].filter(([id]) => indexed.has(id))));
      t.diagnostic(`second run uploaded ${mib(uploaded)} for a ${mib(libBytes)} library; ${mib(reused)} of the ${mib(sum(arrived))} that had arrived were reused`);
      assert.ok(reused >= 0.2 * libBytes, `a good part of the library had arrived and was reused (${mib(reused)})`);
      // At most the packs in flight at the kill (a few, 16 MiB each) may have been cut short.
      assert.ok(reused >= sum(arrived) - 5 * 16 * MiB, `what arrived whole was reused (${mib(reused)} of ${mib(sum(arrived))})`);
      assert.ok(uploaded <= libBytes - reused + 4 * MiB, `nothing reused was uploaded again (${mib(uploaded)})`);
      const c = await restic([...sc.resticArgs, 'check', '--read-data'], 0, { env: sc.resticEnv });
      assert.match(c.stdout, /no errors were found/);
    } else {
      t.diagnostic(`second run uploaded ${mib(uploaded)} for a ${mib(libBytes)} library`);
    }
    assert.ok(uploaded < 0.8 * libBytes, `the second run uploaded ${mib(uploaded)}, well below the ${mib(libBytes)} library`);
  } finally {
    await sc.server.kill();
  }
}

// ---------------------------------------------------------------------------------------------
// The tests

const sftpPeer = peerEnv('SFTP (OpenSSH)', ['KEEPSAKE_TEST_SFTP', 'KEEPSAKE_TEST_SFTP_URL', 'KEEPSAKE_TEST_SSH_KEY']);

describe('a destination that vanishes mid-backup', { concurrency: true }, () => {
  let work: string;
  let lib: string;
  let libBytes: number;

  before(async () => {
    work = await tempDir('vanish');
    lib = path.join(work, 'lib');
    libBytes = makeCorpus(lib, { photos: 210, videos: 4, meanMb: 0.6, seed: 41 }).totalBytes;
    assert.ok(libBytes > 130 * MiB, `library of ${mib(libBytes)}`);
  });

  test('REST server (rclone serve restic) killed mid-backup', async (t) => {
    if (!needTool(t, 'rclone', ['version'])) return;
    const dir = path.join(work, 'rest-server');
    await fs.mkdir(dir);
    const rcloneConfig = path.join(work, 'rclone.conf');
    await fs.writeFile(rcloneConfig, '');
    const port = await freePort();
    const user = 'ks';
    const pass = `pw-${randomName('rest')}`;
    const name = 'photos';
    const location = `rest:http://${user}:${pass}@127.0.0.1:${port}/${name}/`;
    const server = new PrivateServer('rclone serve restic', port, 'rclone',
      ['serve', 'restic', '--addr', `127.0.0.1:${port}`, '--user', user, '--pass', pass, dir], { ...process.env, RCLONE_CONFIG: rcloneConfig });
    const seen: string[] = [];
    await vanishAndResume(t, lib, libBytes, {
      server,
      // The URL with its password travels in the environment, never on a command line.
      repoArgs: [],
      env: { KEEPSAKE_REPOSITORY: location },
      shown: `rest:http://${user}:***@127.0.0.1:${port}/${name}/`,
      resticArgs: ['-r', location],
      resticEnv: {},
      repoDir: path.join(dir, name),
      secrets: [pass],
      resume: 'backup',
      whileRunning: (pid) => {
        for (const p of [pid, ...descendants(pid)]) {
          const args = psArgs(p);
          const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
          seen.push(args);
          for (const s of [pass, password]) {
            assert.ok(!args.includes(s) && !cmdline.includes(s), `a credential is on the command line of PID ${p}: ${args.replace(s, '<HERE>')}`);
          }
        }
      },
    });
    assert.ok(seen.length > 0 && seen[0]!.includes('backup'), `ps showed keepsake: ${seen.join(' | ')}`);
    t.diagnostic(`ps -o args of keepsake during the backup: ${seen.join(' | ')}`);
  });

  test('SFTP server (a private OpenSSH sshd) killed mid-backup', async (t) => {
    if (!sftpPeer) return t.skip('needs the SFTP peer (see the warning above)');
    const sshd = existsSync('/usr/sbin/sshd') ? '/usr/sbin/sshd' : 'sshd'; // sshd wants an absolute path
    if (!needTool(t, sshd, ['-t', '-f', '/dev/null'])) return;
    // The peers' test user, key and repository folder; a host key, port and sshd of our own.
    const peerUrl = new URL(sftpPeer.KEEPSAKE_TEST_SFTP_URL);
    const user = peerUrl.username;
    const reposDir = sftpPeer.KEEPSAKE_TEST_SFTP.split(':').slice(2).join(':');
    const dir = path.join(work, 'sshd');
    await fs.mkdir(dir);
    const hostKey = path.join(dir, 'host_ed25519_key');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey], { stdio: 'ignore' });
    const port = await freePort();
    await fs.writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const alias = 'keepsake-vanish-sshd';
    const sshConfig = path.join(dir, 'ssh_config');
    await fs.writeFile(sshConfig, [
      `Host ${alias}`, '  HostName 127.0.0.1', `  Port ${port}`, `  User ${user}`, `  IdentityFile ${sftpPeer.KEEPSAKE_TEST_SSH_KEY}`,
      '  IdentitiesOnly yes', `  UserKnownHostsFile ${path.join(dir, 'known_hosts')}`, '  StrictHostKeyChecking yes', '  BatchMode yes', '',
    ].join('\n'));
    const sshdConfig = path.join(dir, 'sshd_config');
    await fs.writeFile(sshdConfig, [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, 'PidFile none', 'UsePAM no', 'PasswordAuthentication no',
      'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes', 'AuthorizedKeysFile .ssh/authorized_keys', `AllowUsers ${user}`,
      'Subsystem sftp internal-sftp', 'MaxSessions 32', 'MaxStartups 64', '',
    ].join('\n'));
    const name = randomName('vanish');
    const repoDir = path.join(reposDir, name);
    const location = `sftp:${alias}:${repoDir}`;
    try {
      await vanishAndResume(t, lib, libBytes, {
        server: new PrivateServer('sshd', port, sshd, ['-D', '-e', '-f', sshdConfig]),
        repoArgs: ['--repo', location],
        env: { KEEPSAKE_SSH_CONFIG: sshConfig },
        shown: location,
        resticArgs: ['-r', location, '-o', `sftp.command=ssh -F ${sshConfig} ${alias} -s sftp`],
        resticEnv: {},
        repoDir,
        secrets: [],
        resume: 'unlock',
      });
    } finally {
      await fs.rm(repoDir, { recursive: true, force: true });
    }
  });
});
