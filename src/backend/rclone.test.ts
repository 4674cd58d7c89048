import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendError } from './backend.js';
import { backendContract } from './contract.js';
import { checkResticInterop } from './interop.test-helper.js';
import { peerEnv, randomName, wipe } from './peers.test-helper.js';
import { openRclone } from './rclone.js';
import { packThroughputTest } from './workload.test-helper.js';

const peer = peerEnv('rclone', ['KEEPSAKE_TEST_RCLONE_CONFIG', 'KEEPSAKE_TEST_RCLONE_REMOTE']);

if (peer) {
  const env = { ...process.env, RCLONE_CONFIG: peer.KEEPSAKE_TEST_RCLONE_CONFIG };
  const repo = (name = randomName('t')) => `rclone:${peer.KEEPSAKE_TEST_RCLONE_REMOTE}/${name}`;

  backendContract('rclone', async () => {
    const r = repo();
    return { backend: openRclone(r, { env }), cleanup: async () => { const b = openRclone(r, { env }); await wipe(b); await b.close(); } };
  });

  describe('rclone serve restic --stdio', () => {
    it('stops its child on close, and starts a new one when needed', async () => {
      const b = openRclone(repo(), { env });
      await b.create();
      await b.close();
      await b.stat({ type: 'config', name: '' }).catch((e: unknown) => assert.ok(e instanceof BackendError && e.code === 'not-found'));
      await b.close();
    });

    it('reports a crashed rclone as a retryable error, and starts a new one on the next call', async () => {
      const { mkdtemp, readFile, rm, writeFile } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const path = await import('node:path');
      const dir = await mkdtemp(path.join(tmpdir(), 'keepsake-rclone-crash-'));
      const wrapper = path.join(dir, 'rclone-wrapper');
      await writeFile(wrapper, `#!/bin/sh\necho $$ > ${dir}/pid\nexec rclone "$@"\n`, { mode: 0o755 });
      const b = openRclone(repo(), { env, program: wrapper });
      try {
        await b.create();
        const big = Buffer.alloc(64 * 1024 * 1024, 1);
        const saving = b.save({ type: 'pack', name: 'd'.repeat(64) }, big);
        process.kill(Number(await readFile(path.join(dir, 'pid'), 'utf8')), 'SIGKILL');
        await assert.rejects(saving, (e: unknown) =>
          e instanceof BackendError && e.code === 'transient' && /rclone was killed by SIGKILL/.test(e.message));
        // Between calls a crash goes unnoticed: the next call starts a new rclone.
        await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) => e instanceof BackendError && e.code === 'not-found');
      } finally {
        await b.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('reports an unknown remote as a permanent error with rclone\'s own words', async () => {
      const b = openRclone('rclone:no-such-remote:x', { env });
      try {
        await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) =>
          e instanceof BackendError && e.code === 'permanent' && /^rclone:no-such-remote:x: rclone exited with status \d+: .*no-such-remote/.test(e.message)
          && /rclone lsd/.test(e.hint ?? ''));
      } finally {
        await b.close();
      }
    });

    it('says so when rclone is not installed', async () => {
      const b = openRclone(repo(), { env, program: 'rclone-not-installed' });
      await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) =>
        e instanceof BackendError && e.code === 'permanent' && /install rclone/.test(e.hint ?? ''));
      await b.close();
    });

    it('uploads a 16 MiB pack', (t) => packThroughputTest(t, () => openRclone(repo(), { env }), wipe));

    it('reads what restic 0.14 wrote', async (t) => {
      const r = repo(randomName('restic'));
      const b = openRclone(r, { env });
      try {
        t.diagnostic(`restic wrote ${JSON.stringify(await checkResticInterop(r, b, [], { RCLONE_CONFIG: peer.KEEPSAKE_TEST_RCLONE_CONFIG }))}`);
      } finally {
        await wipe(b);
        await b.close();
      }
    });
  });
}
