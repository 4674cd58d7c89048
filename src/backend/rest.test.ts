import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendError } from './backend.js';
import { backendContract } from './contract.js';
import { FaultyBackend } from './faulty.js';
import { checkResticInterop } from './interop.test-helper.js';
import { openBackend } from './open.js';
import { peerEnv, randomName, wipe } from './peers.test-helper.js';
import { openRest } from './rest.js';
import { RetryBackend } from './retry.js';
import { backupWorkload, packThroughputTest } from './workload.test-helper.js';

const peer = peerEnv('REST (rclone serve restic)', ['KEEPSAKE_TEST_REST_URL', 'KEEPSAKE_TEST_REST_PASS']);

if (peer) {
  const url = peer.KEEPSAKE_TEST_REST_URL;
  const pass = peer.KEEPSAKE_TEST_REST_PASS;
  const repo = (name = randomName('t')) => `rest:${url}${name}/`;

  backendContract('rest', async () => {
    const r = repo();
    return { backend: openRest(r), cleanup: async () => { const b = openRest(r); await wipe(b); await b.close(); } };
  });

  describe('rest against rclone serve restic', () => {
    it('never shows the password, in the location or in errors', async () => {
      const b = await openBackend(repo(), { env: {} });
      assert.ok(!b.location.includes(pass) && b.location.includes(':***@'), b.location);
      const wrong = openRest(`rest:${url.replace(pass, 'not-the-password-42')}x/`);
      await assert.rejects(wrong.stat({ type: 'config', name: '' }), (e: unknown) =>
        e instanceof BackendError && e.code === 'permanent' && /check the user name and password/.test(e.hint ?? '')
        && e.message.startsWith(wrong.location) && !`${e.message}${e.hint}${wrong.location}`.includes('not-the-password-42'));
      await b.close();
      const refused = openRest(`rest:http://u:${pass}@127.0.0.1:59999/`);
      await assert.rejects(refused.stat({ type: 'config', name: '' }), (e: unknown) =>
        e instanceof BackendError && e.code === 'transient' && /is the REST server running/.test(e.hint ?? '') && !e.message.includes(pass));
    });

    it('survives a backup with a fifth of the calls failing', async () => {
      const inner = openRest(repo());
      const faulty = new FaultyBackend(inner, { seed: 5, failRate: 0.2, truncateRate: 0.2, maxDelayMs: 5 });
      const retries: string[] = [];
      const b = new RetryBackend(faulty, { baseDelayMs: 1, onRetry: (m) => retries.push(m) });
      try {
        await backupWorkload(b, 30);
        assert.ok(faulty.injected.failedBefore + faulty.injected.failedAfter > 3);
        assert.ok(retries.length > 3 && retries.every((m) => m.startsWith('rest:http://keepsake:***@') && !m.includes(pass)));
      } finally {
        await wipe(inner);
        await b.close();
      }
    });

    it('uploads a 16 MiB pack', (t) => packThroughputTest(t, () => openRest(repo()), wipe));

    it('reads what restic 0.14 wrote', async (t) => {
      const r = repo(randomName('restic'));
      const b = openRest(r);
      try {
        t.diagnostic(`restic wrote ${JSON.stringify(await checkResticInterop(r, b))}`);
      } finally {
        await wipe(b);
        await b.close();
      }
    });
  });
}
