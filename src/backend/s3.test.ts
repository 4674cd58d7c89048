import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendError } from './backend.js';
import { backendContract } from './contract.js';
import { FaultyBackend } from './faulty.js';
import { checkResticInterop } from './interop.test-helper.js';
import { peerEnv, randomName, wipe } from './peers.test-helper.js';
import { RetryBackend } from './retry.js';
import { S3Backend } from './s3.js';
import { backupWorkload, packThroughput } from './workload.test-helper.js';

const peer = peerEnv('S3 (Ceph RGW)', ['KEEPSAKE_TEST_S3_ENDPOINT', 'KEEPSAKE_TEST_S3_ACCESS_KEY', 'KEEPSAKE_TEST_S3_SECRET_KEY']);

if (peer) {
  const endpoint = peer.KEEPSAKE_TEST_S3_ENDPOINT;
  const secret = peer.KEEPSAKE_TEST_S3_SECRET_KEY;
  const env = { AWS_ACCESS_KEY_ID: peer.KEEPSAKE_TEST_S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: secret };
  const bucket = 'keepsake-tests';
  const open = (prefix = randomName('t'), e: NodeJS.ProcessEnv = env) => new S3Backend(`s3:${endpoint}/${bucket}/${prefix}`, { env: e });

  backendContract('s3', async () => {
    const backend = open();
    return { backend, cleanup: async () => { const b = open(backend.location.split('/').pop()); await wipe(b); await b.close(); } };
  });

  describe('s3 against Ceph RGW', () => {
    it('survives a backup with a fifth of the calls failing', async () => {
      const inner = open();
      const faulty = new FaultyBackend(inner, { seed: 7, failRate: 0.2, truncateRate: 0.2, maxDelayMs: 5 });
      const retries: string[] = [];
      const b = new RetryBackend(faulty, { baseDelayMs: 1, onRetry: (m) => retries.push(m) });
      try {
        await backupWorkload(b, 30);
        assert.ok(faulty.injected.failedBefore + faulty.injected.failedAfter + faulty.injected.truncated > 5, 'faults happened');
        assert.ok(retries.length > 5 && retries.every((m) => m.startsWith(inner.location)));
      } finally {
        await wipe(inner);
        await b.close();
      }
    });

    it('names the destination and the fix for a wrong secret, and never shows the secret', async () => {
      const b = open(undefined, { AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: 'wrong-secret-0123456789' });
      try {
        await assert.rejects(b.save({ type: 'key', name: 'a'.repeat(64) }, Buffer.from('x')), (e: unknown) => {
          assert.ok(e instanceof BackendError);
          assert.equal(e.code, 'permanent');
          assert.match(e.message, new RegExp(`^${b.location}: save keys/a+: SignatureDoesNotMatch`));
          assert.match(e.hint ?? '', /check the access key and secret/);
          assert.ok(!`${e.message} ${e.hint} ${b.location}`.includes('wrong-secret-0123456789'));
          return true;
        });
      } finally {
        await b.close();
      }
    });

    it('says so when the access key is unknown', async () => {
      const b = open(undefined, { AWS_ACCESS_KEY_ID: 'NOSUCHKEY0000000000', AWS_SECRET_ACCESS_KEY: secret });
      try {
        await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) =>
          e instanceof BackendError && e.code === 'permanent' && /check the access key/.test(e.hint ?? '') && !e.message.includes(secret));
      } finally {
        await b.close();
      }
    });

    it('says to create the bucket when it is missing', async () => {
      const b = new S3Backend(`s3:${endpoint}/${randomName('nobucket')}/repo`, { env });
      try {
        for (const call of [() => b.load({ type: 'config', name: '' }, 0, 0), () => b.save({ type: 'key', name: 'b'.repeat(64) }, Buffer.from('x'))]) {
          await assert.rejects(call(), (e: unknown) =>
            e instanceof BackendError && e.code === 'permanent' && e.message.startsWith(b.location) && /create the bucket first/.test(e.hint ?? ''));
        }
        // Asking whether a repository exists there is answered "no" (so `init` goes on and creates
        // the bucket), with the same hint for whoever expected one.
        await assert.rejects(b.stat({ type: 'config', name: '' }), (e: unknown) =>
          e instanceof BackendError && e.code === 'not-found' && /create the bucket first/.test(e.hint ?? ''));
      } finally {
        await b.close();
      }
    });

    it('uploads a 16 MiB pack, and a large object in parts', async (t) => {
      const b = new S3Backend(`s3:${endpoint}/${bucket}/${randomName('big')}`, { env, multipartThreshold: 20 * 1024 * 1024 });
      try {
        t.diagnostic(await packThroughput(b));
        const big = Buffer.alloc(40 * 1024 * 1024 + 17, 7);
        const h = { type: 'pack' as const, name: 'c'.repeat(64) };
        await b.save(h, big);
        assert.equal((await b.stat(h)).size, big.length);
        assert.deepEqual(Buffer.from(await b.load(h, 60, 40 * 1024 * 1024 - 43)), big.subarray(40 * 1024 * 1024 - 43));
        await b.remove(h);
      } finally {
        await b.close();
      }
    });

    it('reads what restic 0.14 wrote', async (t) => {
      const prefix = randomName('restic');
      const b = open(prefix);
      try {
        const counts = await checkResticInterop(`s3:${endpoint}/${bucket}/${prefix}`, b, [], env);
        t.diagnostic(`restic wrote ${JSON.stringify(counts)}`);
      } finally {
        await wipe(b);
        await b.close();
      }
    });
  });
}
