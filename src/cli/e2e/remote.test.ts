/**
 * The CLI against every real remote server (`bash scripts/peers/start-all.sh && . .peers/env`): Ceph
 * S3, OpenSSH SFTP, rclone's REST server, and an rclone remote. For each: `keepsake init` and `backup`
 * of a generated photo library, `restic check --read-data` on the same repository through the same
 * server, `keepsake restore latest` compared byte for byte (and mtimes to the microsecond) with the
 * source; then a second backup after the library changed, checked and restored again. No keepsake
 * output (human, `--json`, errors) may show a credential.
 *
 * A missing server is a loud skip on a developer's machine and a failure under CI=true (peerEnv).
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { openBackend, redactLocation } from '../../backend/open.js';
import { peerEnv, randomName, wipe } from '../../backend/peers.test-helper.js';
import {
  cli, diffTrees, hashTree, lastJson, makeCorpus, mutateCorpus, needRestic, password, restic, runCli, tempDir, type RunResult,
} from './harness.js';

interface Remote {
  /** The repository string, for keepsake and restic alike. */
  location: string;
  /** What keepsake needs in its environment (credentials, config files). */
  env: NodeJS.ProcessEnv;
  /** Extra restic options (`-o sftp.command=…`); restic gets `env` too. */
  resticOptions: string[];
  /** Strings that must never appear in keepsake's output. */
  secrets: string[];
}

interface Server {
  label: string;
  remote(name: string): Remote | undefined;
  /** After the repository's files are gone (e.g. remove the bucket). */
  cleanup?(name: string): Promise<void>;
  /** The same repository with a wrong server credential (`wrong`), for servers that take one. */
  withWrongCredential?(remote: Remote, wrong: string): Remote;
}

const s3 = peerEnv('S3 (Ceph RGW)', ['KEEPSAKE_TEST_S3_ENDPOINT', 'KEEPSAKE_TEST_S3_ACCESS_KEY', 'KEEPSAKE_TEST_S3_SECRET_KEY']);
const sftp = peerEnv('SFTP (OpenSSH)', ['KEEPSAKE_TEST_SFTP', 'KEEPSAKE_TEST_SSH_CONFIG', 'KEEPSAKE_TEST_SFTP_COMMAND']);
const rest = peerEnv('REST (rclone serve restic)', ['KEEPSAKE_TEST_REST_URL', 'KEEPSAKE_TEST_REST_PASS']);
const rclone = peerEnv('rclone', ['KEEPSAKE_TEST_RCLONE_CONFIG', 'KEEPSAKE_TEST_RCLONE_REMOTE']);

const servers: Server[] = [
  {
    label: 'S3 (Ceph RGW)',
    // A bucket of its own, so `keepsake init` has to create it (as it promises), then removed.
    remote: (name) => s3 && {
      location: `s3:${s3.KEEPSAKE_TEST_S3_ENDPOINT}/${name}/photos`,
      env: { AWS_ACCESS_KEY_ID: s3.KEEPSAKE_TEST_S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: s3.KEEPSAKE_TEST_S3_SECRET_KEY },
      resticOptions: [],
      secrets: [s3.KEEPSAKE_TEST_S3_SECRET_KEY],
    },
    withWrongCredential: (r, wrong) => ({ ...r, env: { ...r.env, AWS_SECRET_ACCESS_KEY: wrong } }),
    cleanup: async (name) => {
      const sdk = await import('@aws-sdk/client-s3');
      const client = new sdk.S3Client({
        endpoint: s3!.KEEPSAKE_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true,
        credentials: { accessKeyId: s3!.KEEPSAKE_TEST_S3_ACCESS_KEY, secretAccessKey: s3!.KEEPSAKE_TEST_S3_SECRET_KEY },
      });
      try {
        await client.send(new sdk.DeleteBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
  },
  {
    label: 'SFTP (OpenSSH)',
    remote: (name) => sftp && {
      location: `${sftp.KEEPSAKE_TEST_SFTP}/${name}`,
      env: { KEEPSAKE_SSH_CONFIG: sftp.KEEPSAKE_TEST_SSH_CONFIG },
      resticOptions: ['-o', `sftp.command=${sftp.KEEPSAKE_TEST_SFTP_COMMAND}`],
      secrets: [],
    },
    cleanup: (name) => removeIfLocal(path.join(sftp!.KEEPSAKE_TEST_SFTP.split(':').slice(2).join(':'), name)),
  },
  {
    label: 'REST (rclone serve restic)',
    remote: (name) => rest && {
      location: `rest:${rest.KEEPSAKE_TEST_REST_URL}${name}/`,
      env: {},
      resticOptions: [],
      secrets: [rest.KEEPSAKE_TEST_REST_PASS],
    },
    withWrongCredential: (r, wrong) => ({ ...r, location: r.location.replace(`:${rest!.KEEPSAKE_TEST_REST_PASS}@`, `:${wrong}@`) }),
    cleanup: async (name) => {
      if (process.env.KEEPSAKE_TEST_PEERS_DIR) await removeIfLocal(path.join(process.env.KEEPSAKE_TEST_PEERS_DIR, 'rest/repos', name));
    },
  },
  {
    label: 'rclone (rclone serve restic --stdio)',
    remote: (name) => rclone && {
      location: `rclone:${rclone.KEEPSAKE_TEST_RCLONE_REMOTE}/${name}`,
      env: { RCLONE_CONFIG: rclone.KEEPSAKE_TEST_RCLONE_CONFIG },
      resticOptions: [],
      secrets: [],
    },
    // The peers' remote is of type local: `keepsake-test:/folder`.
    cleanup: (name) => removeIfLocal(path.join(rclone!.KEEPSAKE_TEST_RCLONE_REMOTE.replace(/^[^:]*:/, ''), name)),
  },
];

/**
 * The empty folders a wipe leaves (data/00…ff), when the server keeps them on this machine, as the
 * peers of scripts/peers do; a no-op for a server elsewhere.
 */
async function removeIfLocal(dir: string): Promise<void> {
  if (path.isAbsolute(dir) && existsSync(dir)) await fs.rm(dir, { recursive: true, force: true });
}

/** Fails if any output of a keepsake run shows a credential (the repository password included). */
function assertNoSecrets(r: RunResult, secrets: string[], what: string): void {
  for (const s of [password, ...secrets]) {
    for (const form of new Set([s, encodeURIComponent(s)])) {
      assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form), `${what}: a credential appears in the output`);
    }
  }
}

function elapsed(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

// The servers run side by side: most of each run is waiting on a server or on restic, and the
// machine has few cores. Each server's steps run in order.
describe('keepsake against real remote servers', { concurrency: 2 }, () => {
  for (const server of servers) {
    const name = randomName('e2e');
    const remote = server.remote(name);
    if (!remote) continue; // peerEnv registered the skip (or, under CI, the failure)

    describe(server.label, { concurrency: false }, () => {
      let work: string;
      let lib: string;
      let source: Awaited<ReturnType<typeof hashTree>>;
      const run = (args: string[], want = 0) =>
        cli([...args, '--repo', remote.location], want, { env: remote.env, timeoutMs: 180_000 });
      const checkWithRestic = async (t: TestContext) => {
        const started = Date.now();
        const r = await restic(['-r', remote.location, ...remote.resticOptions, 'check', '--read-data'], 0, { env: remote.env });
        assert.match(r.stdout, /no errors were found/);
        assert.doesNotMatch(r.stderr, /error|Fatal/i, 'restic check reports nothing bad');
        assert.doesNotMatch(r.stdout, /not referenced|additional files/i, 'no pack outside the index');
        t.diagnostic(`restic check --read-data: ${elapsed(started)}`);
      };
      const restoreAndCompare = async (t: TestContext, label: string) => {
        const started = Date.now();
        const target = path.join(work, `restored-${label}`);
        const r = await run(['restore', 'latest', '--target', target, '--json']);
        assertNoSecrets(r, remote.secrets, 'restore');
        assert.deepEqual(lastJson(r.stdout).errors, [], 'restore reported no errors');
        const got = await hashTree(path.join(target, lib));
        // Byte-identical contents and modes; mtimes equal to the microsecond (Node's utimes limit).
        assert.deepEqual(diffTrees(source, got, { mtimeToleranceNs: 999, modes: true, dirMtimes: true }), []);
        t.diagnostic(`restore + compare (${got.size} entries): ${elapsed(started)}`);
      };

      before(async () => {
        work = await tempDir('remote');
        lib = path.join(work, 'lib');
        makeCorpus(lib, { photos: 20, videos: 1, meanMb: 0.5, seed: 31 });
        source = await hashTree(lib);
      });

      after(async () => {
        // Leave nothing on the shared server.
        const b = await openBackend(remote.location, { env: { ...process.env, ...remote.env }, raw: true });
        try {
          await wipe(b);
          await server.cleanup?.(name);
        } catch (err) {
          process.stderr.write(`cleanup of ${b.location} failed: ${String(err)}\n`);
        } finally {
          await b.close();
        }
      });

      test('init and backup a photo library', async (t) => {
        const started = Date.now();
        const init = await run(['init']);
        assertNoSecrets(init, remote.secrets, 'init');
        const r = await run(['backup', '--json', lib]);
        assertNoSecrets(r, remote.secrets, 'backup');
        const s = lastJson(r.stdout);
        assert.equal(s.message_type, 'summary');
        assert.equal(s.files_new, [...source.values()].filter((e) => e.type === 'file').length);
        assert.ok((s.uploaded_bytes as number) > 5 * 1024 * 1024, `uploaded ${s.uploaded_bytes as number} bytes`);
        t.diagnostic(`init + backup of ${s.total_bytes_processed as number} bytes: ${elapsed(started)}`);
      });

      test('restic check --read-data passes through the same server', async (t) => {
        if (!needRestic(t)) return;
        await checkWithRestic(t);
      });

      test('keepsake restore latest is byte-identical, mtimes to the microsecond', async (t) => {
        await restoreAndCompare(t, '1');
      });

      test('a wrong password or server credential: exit code, the destination named, no secret shown', async () => {
        const wrong = `Wrong-${randomName('secret')}`;
        const secrets = [...remote.secrets, wrong];
        const r = await runCli(['snapshots', '--json', '--repo', remote.location], { env: { ...remote.env, KEEPSAKE_PASSWORD: wrong } });
        assert.equal(r.code, 12, `wrong repository password: exit 12\n${r.stderr}`);
        assertNoSecrets(r, secrets, 'wrong repository password');
        const shown = String(lastJson(r.stdout).message);
        assert.match(shown, /wrong password/);
        if (!server.withWrongCredential) return;
        const bad = server.withWrongCredential(remote, wrong);
        const b = await runCli(['snapshots', '--json', '--repo', bad.location], { env: bad.env, timeoutMs: 60_000 });
        assert.equal(b.code, 1, `wrong server credential: exit 1\n${b.stderr}`);
        assertNoSecrets(b, secrets, 'wrong server credential');
        const e = lastJson(b.stdout);
        assert.equal(e.code, 'permanent', 'refused at once, not retried');
        assert.ok(String(e.message).startsWith(redactLocation(remote.location)), `the error names the destination: ${String(e.message)}`);
        assert.ok(e.hint, 'with a hint');
      });

      test('a second backup after the library changed adds data, checks clean and restores', async (t) => {
        mutateCorpus(lib, 2);
        source = await hashTree(lib);
        const started = Date.now();
        const r = await run(['backup', '--json', lib]);
        assertNoSecrets(r, remote.secrets, 'second backup');
        const s = lastJson(r.stdout);
        assert.ok(s.parent, 'the first snapshot was the parent');
        assert.ok((s.files_new as number) > 0 && (s.data_added as number) > 0, 'new files, new data');
        assert.ok((s.files_unmodified as number) > 0, 'unchanged files were not read again');
        t.diagnostic(`second backup (${s.files_new as number} new, ${s.files_changed as number} changed): ${elapsed(started)}`);
        if (needRestic(t)) await checkWithRestic(t);
        await restoreAndCompare(t, '2');
      });
    });
  }
});
