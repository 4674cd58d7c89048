import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendError } from './backend.js';
import { backendContract } from './contract.js';
import { FaultyBackend } from './faulty.js';
import { checkResticInterop } from './interop.test-helper.js';
import { peerEnv, randomName, wipe } from './peers.test-helper.js';
import { RetryBackend } from './retry.js';
import { SftpBackend } from './sftp.js';
import { backupWorkload, packThroughputTest } from './workload.test-helper.js';

const peer = peerEnv('SFTP (OpenSSH)', ['KEEPSAKE_TEST_SFTP', 'KEEPSAKE_TEST_SSH_CONFIG', 'KEEPSAKE_TEST_SFTP_COMMAND']);

if (peer) {
  const base = peer.KEEPSAKE_TEST_SFTP;
  const opts = { env: { HOME: '/nonexistent' }, configFile: peer.KEEPSAKE_TEST_SSH_CONFIG };
  const open = (name = randomName('t')) => new SftpBackend(`${base}/${name}`, opts);

  backendContract('sftp', async () => {
    const backend = open();
    return { backend, cleanup: async () => { const b = new SftpBackend(backend.location, opts); await wipe(b); await b.close(); } };
  });

  describe('sftp against OpenSSH', () => {
    it('survives a backup with a fifth of the calls failing', async () => {
      const inner = open();
      const faulty = new FaultyBackend(inner, { seed: 11, failRate: 0.2, truncateRate: 0.2, maxDelayMs: 5 });
      const b = new RetryBackend(faulty, { baseDelayMs: 1 });
      try {
        await backupWorkload(b, 30);
        assert.ok(faulty.injected.failedAfter > 2, 'some saves "lost their reply" and were repeated');
      } finally {
        await wipe(inner);
        await b.close();
      }
    });

    it('stores files read-only and leaves no temp files', async () => {
      const name = randomName('mode');
      const b = open(name);
      try {
        await b.create();
        await b.save({ type: 'index', name: 'a'.repeat(64) }, Buffer.from('x'));
        const ls = await sshRun(`ls -la ${base.split(':').slice(2).join(':')}/${name}/index`);
        assert.match(ls, /^-r-------- .* a{64}$/m);
        assert.equal(ls.split('\n').filter((l) => l.includes('tmp')).length, 0);
      } finally {
        await wipe(b);
        await b.close();
      }
    });

    it('says which folder it may not write and what to check', async () => {
      const b = new SftpBackend(`${base.split(':').slice(0, 2).join(':')}:/root/keepsake-no-access`, opts);
      try {
        await assert.rejects(b.create(), (e: unknown) =>
          e instanceof BackendError && e.code === 'permanent' && e.message.startsWith(b.location) && /user keepsake-test may not (read|write) \/root\/keepsake-no-access on 127\.0\.0\.1: check the folder's owner and permissions/.test(e.hint ?? ''));
      } finally {
        await b.close();
      }
    });

    it('refuses a server whose key is unknown or changed', async () => {
      const fs = await import('node:fs/promises');
      const os = await import('node:os');
      const path = await import('node:path');
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keepsake-kh-'));
      try {
        const cfg = await fs.readFile(peer.KEEPSAKE_TEST_SSH_CONFIG, 'utf8');
        const emptyKh = path.join(dir, 'empty');
        await fs.writeFile(emptyKh, '');
        await fs.writeFile(path.join(dir, 'unknown'), cfg.replace(/UserKnownHostsFile .*/, `UserKnownHostsFile ${emptyKh}`));
        const port = /Port (\d+)/.exec(cfg)![1];
        const wrongKh = path.join(dir, 'wrong');
        await fs.writeFile(wrongKh, `[127.0.0.1]:${port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDxR1YVOu6hHpHx5YcqDfc/FEXc0gk1GJ5V4Vj0mOEiF\n`);
        await fs.writeFile(path.join(dir, 'changed'), cfg.replace(/UserKnownHostsFile .*/, `UserKnownHostsFile ${wrongKh}`));
        for (const [file, pattern] of [['unknown', /not in known_hosts/], ['changed', /has CHANGED/]] as const) {
          const b = new SftpBackend(`${base}/x`, { ...opts, configFile: path.join(dir, file) });
          await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) =>
            e instanceof BackendError && e.code === 'permanent' && pattern.test(e.message) && /run `ssh -F .*` once/.test(e.hint ?? ''));
          await b.close();
        }
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('uploads a 16 MiB pack', (t) => packThroughputTest(t, () => open(), wipe));

    it('reads what restic 0.14 wrote', async (t) => {
      const name = randomName('restic');
      const b = open(name);
      try {
        const counts = await checkResticInterop(`${base}/${name}`, b, ['-o', `sftp.command=${peer.KEEPSAKE_TEST_SFTP_COMMAND}`]);
        t.diagnostic(`restic wrote ${JSON.stringify(counts)}`);
      } finally {
        await sshRun(`chmod -R u+w ${base.split(':').slice(2).join(':')}/${name} && rm -rf ${base.split(':').slice(2).join(':')}/${name}`);
        await b.close();
      }
    });
  });

  async function sshRun(cmd: string): Promise<string> {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const alias = base.split(':')[1]!;
    const { stdout } = await promisify(execFile)('ssh', ['-F', peer!.KEEPSAKE_TEST_SSH_CONFIG, alias, cmd]);
    return stdout;
  }
}
